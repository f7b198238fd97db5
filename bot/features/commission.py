"""分销: 成为推广员 / 我的推广码 / 我的佣金 in chat, and the worker's hourly confirmation sweep."""

from __future__ import annotations

from bot.features.base import Chat, ChatContext, Feature
from dialogs.commission_answers import CommissionSettings, make_commission_answers
from scheduler.commission_jobs import COMMISSION_FUNCTIONS, commission_cron
from store.members.accounts import MemberRules
from store.orders.pricing import Tier


def chat(ctx: ChatContext) -> Chat:
    config = ctx.config
    settings = CommissionSettings(
        config.server.public_url, config.commission.enabled, Tier(config.commission.min_tier),
        MemberRules.from_settings(config.shop), config.after_sales.eligible_days,
    )  # fmt: skip
    return Chat(
        answers=make_commission_answers(settings),
        intents=(
            ("my_commission", "contains", 64, ("我的佣金", "佣金明细", "我的收益", "推广收益")),
            ("my_promoter_code", "contains", 63, ("我的推广码", "推广码", "推广二维码", "推广链接")),
            ("become_promoter", "contains", 62, ("成为推广员", "申请推广员", "我要推广", "当推广员")),
        ),
    )


FEATURE = Feature(
    "commission", help="分销：回复“成为推广员”，邀请好友下单赚佣金", chat=chat, jobs=tuple(COMMISSION_FUNCTIONS),
    cron=lambda config: commission_cron(),
)  # fmt: skip
