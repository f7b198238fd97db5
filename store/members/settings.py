"""The `[shop]` rules the members side needs (gift, birthday, tiers, points), read once from config and passed
down: store never reads config itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from store.members.accounts import MemberRules
from store.orders.pricing import PricingRules


@dataclass(frozen=True)
class MemberSettings:
    rules: MemberRules = field(default_factory=MemberRules)
    pricing: PricingRules = field(default_factory=PricingRules)
    gift_coupons: tuple[str, ...] = ("NEW20",)  # coupon template codes of the new-follower gift
    gift_claim_hours: int = 24
    gift_reminder_hours_before: int = 4
    birthday_coupon: str = "BDAY30"  # "" = a birthday notice with no coupon
    points_reminder_days: int = 7
    ledger_salt: str = ""  # the app id: gift-ledger digests are per account (see store.promotions.gifts)
    vip_kf_account: str = ""  # 专属客服: the agent a VIP's transfer to a human goes to ("" = any agent)
    black_gold_kf_account: str = ""  # ... a 黑金's ("" = the VIP one)

    @classmethod
    def from_settings(cls, shop: Any, app_id: str = "") -> MemberSettings:
        """From the `[shop]` section (any object with its attribute names) and the account's app id."""
        return cls(
            rules=MemberRules.from_settings(shop),
            pricing=PricingRules.from_settings(shop),
            gift_coupons=tuple(shop.gift_coupons),
            gift_claim_hours=int(shop.gift_claim_hours),
            gift_reminder_hours_before=int(shop.gift_reminder_hours_before),
            birthday_coupon=str(shop.birthday_coupon),
            points_reminder_days=int(shop.points_reminder_days_before),
            ledger_salt=app_id,
            vip_kf_account=str(getattr(shop, "vip_kf_account", "")),
            black_gold_kf_account=str(getattr(shop, "black_gold_kf_account", "")),
        )

    @property
    def gift_window(self) -> timedelta:
        return timedelta(hours=self.gift_claim_hours)

    @property
    def gift_reminder_before(self) -> timedelta:
        """Never before the gift is issued: a reminder lead longer than the window means "at once"."""
        return min(timedelta(hours=self.gift_reminder_hours_before), self.gift_window)

    def template_codes(self) -> tuple[str, ...]:
        """Every coupon template the members side issues (validated and seeded at start-up)."""
        return tuple(dict.fromkeys((*self.gift_coupons, *([self.birthday_coupon] if self.birthday_coupon else []))))
