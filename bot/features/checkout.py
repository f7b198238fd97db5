"""The cart and checkout: quantity, address, coupons, the order and its pay link (`dialogs.flows.checkout`)."""

from __future__ import annotations

from bot.chat.carts import RedisCarts
from bot.features.base import Chat, ChatContext, Feature
from dialogs.flows import checkout


def chat(ctx: ChatContext) -> Chat:
    config = ctx.config
    deps = checkout.CheckoutDeps(
        carts=RedisCarts(ctx.resources.redis, config.redis.prefix),
        rules=ctx.shop_rules,
        public_url=config.server.public_url,
        now=ctx.now,
        after_order=ctx.after_order,
    )
    return Chat(flows={"checkout": checkout.build(deps)})


FEATURE = Feature("checkout", chat=chat)
