"""Members: tier, points and coupons in chat; the new-follower gift, birthdays, tiers and points expiry swept."""

from __future__ import annotations

from bot.features.base import Chat, ChatContext, Feature
from dialogs.member_answers import MemberChat
from scheduler.member_jobs import MEMBER_FUNCTIONS, member_cron
from store.members.settings import MemberSettings


def chat(ctx: ChatContext) -> Chat:
    members = MemberChat(MemberSettings.from_settings(ctx.config.shop, ctx.config.wechat.app_id))
    return Chat(answers=members.answers(), members=members)


FEATURE = Feature(
    "members",
    help="会员：回复“我是什么会员”“我的积分”“我的优惠券”",
    chat=chat,
    jobs=tuple(MEMBER_FUNCTIONS),
    cron=lambda config: member_cron(config.shop.birthday_sweep_at),
)
