"""The demo shop's contents: a realistic Chinese catalog (60 products in three-level categories) and keyword
rules, loaded on the first `wxshop demo` into an empty shop and never over a merchant's own data."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from dialogs.rules_file import parse_toml
from store.bargain import operations as bargains
from store.bargain.models import BargainOffer
from store.catalog.csv_import import import_file
from store.catalog.products import Product, Sku
from store.chat.keywords import KeywordRule, save_rules
from store.group_buy.models import GroupOffer
from store.group_buy.operations import OfferInput, set_offer

DEMO_DATA = Path(__file__).parent / "demo_data"
DEMO_GROUP_SKU = "P001-01"  # the demo's 拼团 offer: "开团 P001-01" in the preview
DEMO_BARGAIN_SKU = "P002-01"  # the demo's 砍价 offer: "砍价 P002-01" in the preview


def seed_demo_shop(now: datetime) -> list[str]:
    """Fill what is empty; returns one line per thing seeded (nothing when the shop already has it)."""
    seeded = []
    if not Product.select().exists():
        report = import_file(DEMO_DATA / "catalog.csv")
        seeded.append(f"catalog: {report.summary()}")
    if not GroupOffer.select().exists():
        sku = Sku.get_or_none(Sku.code == DEMO_GROUP_SKU)
        if sku is not None:
            set_offer(OfferInput(sku.id, size=3, window_hours=48, price_fen=sku.price_fen * 6 // 10), now)
            seeded.append(f"拼团: {DEMO_GROUP_SKU} as a 3-person group at 60 % of its price")
    if not BargainOffer.select().exists():
        sku = Sku.get_or_none(Sku.code == DEMO_BARGAIN_SKU)
        if sku is not None:
            offer = bargains.OfferInput(sku.id, floor_fen=sku.price_fen // 2, helpers=3, window_hours=24)
            bargains.set_offer(offer, now)
            seeded.append(f"砍价: {DEMO_BARGAIN_SKU} down to half its price with 3 friends")
    if not KeywordRule.select().exists():
        document = parse_toml((DEMO_DATA / "rules.toml").read_text(encoding="utf-8"))
        created, _, _ = save_rules(document.rules, document.standing, now)
        seeded.append(f"keyword rules: {created} rules, follow and default replies")
    return seeded
