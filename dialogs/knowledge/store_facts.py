"""The follower's facts the knowledge answers quote, read with the store's own operations (one or two small
queries per answer, only for the topic asked about)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dialogs.knowledge.topics import CouponInfo, GiftStatus, Standing
from store.members.accounts import MemberRules, points_balance
from store.members.followers import Follower
from store.members.tiers import standing
from store.promotions import gifts
from store.promotions.coupons import AVAILABLE, Coupon, CouponTemplate


class StoreFacts:
    """`topics.FollowerFacts` over the store."""

    def __init__(self, rules: MemberRules) -> None:
        self.rules = rules

    def coupon_infos(self, codes: Sequence[str]) -> tuple[CouponInfo, ...]:
        if not codes:
            return ()
        found = {
            t.code: CouponInfo(t.describe(), t.valid_days)
            for t in CouponTemplate.select().where(
                CouponTemplate.code.in_(list(codes)),
                CouponTemplate.active == True,  # noqa: E712
            )
        }
        return tuple(found[code] for code in codes if code in found)

    def available_coupons(self, openid: str, now: datetime) -> int:
        return (
            Coupon.select().where(Coupon.openid == openid, Coupon.status == AVAILABLE, Coupon.expires_at > now).count()
        )

    def gift_status(self, openid: str, now: datetime) -> GiftStatus:
        query = Coupon.select(Coupon.status, Coupon.expires_at)
        issued = list(query.where(Coupon.openid == openid, Coupon.source == gifts.SOURCE))
        open_until = [c.expires_at for c in issued if c.status == AVAILABLE and c.expires_at > now]
        return GiftStatus(max(open_until) if open_until else None, bool(issued))

    def standing(self, openid: str, now: datetime) -> Standing:
        return standing(openid, now, self.rules)

    def points_balance(self, openid: str) -> int:
        return points_balance(openid)

    def birthday(self, openid: str) -> str | None:
        row = Follower.select(Follower.birthday).where(Follower.openid == openid).first()
        return row.birthday if row else None
