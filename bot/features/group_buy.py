"""拼团: 开团 / 参团 / 我的拼团 in chat, and the worker's minute sweep that closes and refunds due groups."""

from __future__ import annotations

from bot.features.base import Chat, ChatContext, Feature
from dialogs.group_buy_answers import make_group_answers
from scheduler.group_buy_jobs import GROUP_BUY_FUNCTIONS, group_buy_cron


def chat(ctx: ChatContext) -> Chat:
    return Chat(
        answers=make_group_answers(ctx.config.server.public_url, ctx.shop_rules, ctx.after_order),
        intents=(
            ("my_groups", "contains", 64, ("我的拼团", "拼团进度")),
            ("group_join", "contains", 63, ("参团", "参加拼团", "加入拼团")),
            ("group_start", "contains", 62, ("开团", "发起拼团", "我要拼团")),
        ),
    )


FEATURE = Feature(
    "group_buy", help="拼团：商品页回复“开团”，好友回复“参团 团号”", chat=chat, jobs=tuple(GROUP_BUY_FUNCTIONS),
    cron=lambda config: group_buy_cron(),
)  # fmt: skip
