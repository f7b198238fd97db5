"""黑金专享: the personalised menu's button for 黑金会员 (menu key BLACK_GOLD_PERKS, or the words "黑金专享"). A 黑金
member gets the tier's benefits and the products open to them first (优先购); anyone else is told what the button
is and how to reach the tier — the answer reads the live tier, not the tag, so a tag not yet synced gives nothing
away."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dialogs.flows import Turn
from dialogs.intents import Intent
from dialogs.replies import ReplyLike
from store.catalog.products import Product
from store.core.money import rate_label
from store.members.accounts import tier_of
from store.members.settings import MemberSettings
from store.orders.pricing import Tier

INTENT = "black_gold_perks"
MENU_KEY = "BLACK_GOLD_PERKS"
INTENTS = ((INTENT, "contains", 60, ("黑金专享", "黑金福利", "黑金权益")),)
SHOWN_PRODUCTS = 5


def early_access_titles(now: datetime, tier: Tier = Tier.BLACK_GOLD) -> list[tuple[str, datetime]]:
    """Products open only to `tier` (and above) right now, soonest opening to all first."""
    rows = (
        Product.select(Product.title, Product.early_access_until)
        .where(Product.early_access_tier == tier.value, Product.early_access_until > now, Product.on_sale == True)  # noqa: E712
        .order_by(Product.early_access_until, Product.id)
        .limit(SHOWN_PRODUCTS)
    )
    return [(row.title, row.early_access_until) for row in rows]


def make_answers(settings: MemberSettings) -> dict[str, Callable[[Turn, Intent], ReplyLike]]:
    def perks(turn: Turn, intent: Intent) -> ReplyLike:
        rate = rate_label(settings.pricing.black_gold_rate)
        if tier_of(turn.openid, turn.now, settings.rules) != Tier.BLACK_GOLD:
            spend = f"{settings.rules.black_gold_annual_spend_fen // 100}元"
            return f"黑金专享是黑金会员的专属权益（{rate}、优先购权）。一年内消费满{spend}即可升级黑金会员～"
        lines = [f"尊敬的黑金会员，您专享：{rate}、优先购权、专属客服。"]
        titles = early_access_titles(turn.now)
        if titles:
            lines.append("正在优先购：")
            lines += [f"· {title}（{until:%m月%d日 %H:%M}前仅限黑金）" for title, until in titles]
        else:
            lines.append("暂无优先购商品，新品上架会第一时间通知您。")
        return "\n".join(lines)

    return {INTENT: perks}
