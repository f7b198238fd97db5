"""裂变海报: "生成海报" sends the follower a poster with their own referral QR code; followers it brings are
attributed to them (the QR report)."""

from __future__ import annotations

from bot.features.base import Chat, ChatContext, Feature
from bot.wechat.posters import GatewayPosterSender
from dialogs.poster_answers import make_poster_answers
from store.outbox.windows import CsWindows, WindowQuotas


def chat(ctx: ChatContext) -> Chat:
    shop, resources = ctx.config.shop, ctx.resources
    quotas = WindowQuotas(shop.cs_quota_after_message, shop.cs_quota_after_click)
    windows = CsWindows(resources.redis, resources.key, quotas)
    return Chat(
        answers=make_poster_answers(GatewayPosterSender(ctx.config, resources.redis, windows)),
        intents=(("make_poster", "contains", 62, ("生成海报", "我的海报", "分享海报", "邀请海报", "推广海报")),),
    )


FEATURE = Feature("poster", help="海报：回复“生成海报”获取专属邀请海报", chat=chat)
