"""逛商城 and search: the product lists, cards and spec choice (`dialogs.flows.browse`)."""

from __future__ import annotations

from bot.features.base import Chat, ChatContext, Feature
from dialogs.flows import browse, checkout
from store.core.money import times_rate_half_up
from store.members import accounts as member_store
from store.monitoring import funnel


def chat(ctx: ChatContext) -> Chat:
    now, rules = ctx.now, ctx.shop_rules

    def member_price(openid: str, price_fen: int) -> tuple[str, int] | None:
        """The follower's tier price next to the list price (what pricing will charge before other offers)."""
        tier = member_store.tier_of(openid, now(), rules.members)
        rate = rules.pricing.tier_rate(tier)
        return (tier.label, times_rate_half_up(price_fen, rate)) if rate < 1 else None

    events = ctx.events

    def exposure(openid: str, product_id: int) -> None:
        funnel.record(funnel.EXPOSURE, product_id, now(), openid)
        if events is not None:
            events.note(openid, "card", str(product_id), now())

    def searched(openid: str, query: str) -> None:
        if events is not None:  # noted in memory; the process's beat stores it
            events.note(openid, "search", query, now())

    deps = browse.BrowseDeps(
        renderer=ctx.renderer,
        search=ctx.search,
        record_exposure=exposure,
        record_search=searched,
        on_sku_chosen=checkout.ask_quantity,
        member_price=member_price,
        spec_choices=ctx.specs.get,
        in_stock=ctx.stock.in_stock,
    )
    return Chat(flows={"browse": browse.build(deps)})


FEATURE = Feature("browse", help="逛商城：回复“逛商城”或商品名，如“连衣裙”", chat=chat)
