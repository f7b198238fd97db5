"""砍价: 砍价 / 帮砍 / 砍价下单 / 我的砍价 in chat, and the worker's minute sweep that expires due bargains."""

from __future__ import annotations

from bot.features.base import Chat, ChatContext, Feature
from dialogs.bargain_answers import make_bargain_answers
from scheduler.bargain_jobs import BARGAIN_FUNCTIONS, bargain_cron


def chat(ctx: ChatContext) -> Chat:
    return Chat(
        answers=make_bargain_answers(ctx.config.server.public_url, ctx.shop_rules, ctx.after_order),
        intents=(
            ("my_bargains", "contains", 64, ("我的砍价", "砍价进度")),
            ("bargain_buy", "contains", 63, ("砍价下单", "砍价购买", "按砍价买")),
            ("bargain_help", "contains", 62, ("帮砍", "帮好友砍", "帮他砍", "帮她砍")),
            ("bargain_start", "contains", 61, ("砍价", "发起砍价", "我要砍价", "砍一刀")),
        ),
    )


FEATURE = Feature(
    "bargain", help="砍价：商品页回复“砍价”，好友回复“帮砍 砍价号”，“砍价下单”按现价买", chat=chat,
    jobs=tuple(BARGAIN_FUNCTIONS), cron=lambda config: bargain_cron(),
)  # fmt: skip
