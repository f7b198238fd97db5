"""The config values the shop-knowledge answers quote, read once from `[shop]` and `[after_sales]`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from store.orders.pricing import PricingRules


@dataclass(frozen=True)
class KnowledgeSettings:
    shop_name: str = "微选小店"
    pricing: PricingRules = field(default_factory=PricingRules)  # 满减, tier discounts, points value, stacking
    vip_spend_fen: int = 500000
    black_gold_annual_spend_fen: int = 5000000
    tier_year: str = "rolling"  # "rolling" or "calendar": which year the 黑金 spend counts in
    points_earn_per_yuan: int = 1
    points_valid_days: int = 365
    points_reminder_days: int = 7
    gift_coupons: tuple[str, ...] = ("NEW20",)
    gift_claim_hours: int = 24
    birthday_coupon: str = "BDAY30"
    birthday_sweep_at: str = "09:00"
    ship_within_hours: int = 48
    unpaid_timeout_minutes: int = 30
    no_reason_return_days: int = 7
    after_sales_days: int = 30  # orders paid within this many days can get after-sales in chat
    answer_hours: int = 48
    exchange_hours: int = 72
    dispute_max_working_days: int = 5
    return_subsidy_fen: int = 1000  # 运费险补贴 of an approved return ...
    return_subsidy_method: str = "points"  # ... and how it is paid

    @classmethod
    def from_settings(cls, shop: Any, after_sales: Any) -> KnowledgeSettings:
        """From the `[shop]` and `[after_sales]` sections (any objects with their attribute names)."""
        return cls(
            shop_name=str(shop.name),
            pricing=PricingRules.from_settings(shop),
            vip_spend_fen=int(shop.vip_spend_fen),
            black_gold_annual_spend_fen=int(shop.black_gold_annual_spend_fen),
            tier_year=str(shop.tier_year),
            points_earn_per_yuan=int(shop.points_earn_per_yuan),
            points_valid_days=int(shop.points_valid_days),
            points_reminder_days=int(shop.points_reminder_days_before),
            gift_coupons=tuple(shop.gift_coupons),
            gift_claim_hours=int(shop.gift_claim_hours),
            birthday_coupon=str(shop.birthday_coupon),
            birthday_sweep_at=str(shop.birthday_sweep_at),
            ship_within_hours=int(shop.ship_within_hours),
            unpaid_timeout_minutes=int(shop.unpaid_timeout_minutes),
            no_reason_return_days=int(after_sales.no_reason_return_days),
            after_sales_days=int(after_sales.eligible_days),
            answer_hours=int(after_sales.answer_hours),
            exchange_hours=int(after_sales.exchange_hours),
            dispute_max_working_days=int(after_sales.dispute_max_working_days),
            return_subsidy_fen=int(after_sales.return_subsidy_fen),
            return_subsidy_method=str(after_sales.return_subsidy_method),
        )

    @property
    def year_label(self) -> str:
        return "今年" if self.tier_year == "calendar" else "近一年"
