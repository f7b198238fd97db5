"""Coupons a keyword rule gives (`{type="coupon", code=TEMPLATE}`): one per follower per rule, from the named
template's stock while the template is active.

The grant row and the coupon are written in one transaction; the (rule, openid) unique index decides a race
between two messages of the same follower, so a second trigger finds the first grant and issues nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, write_transaction
from store.promotions.coupons import Coupon, CouponsGone, CouponTemplate, UnknownTemplate, issue_coupon

SOURCE = "keyword"
ISSUED, ALREADY, GONE, CLOSED = "issued", "already", "gone", "closed"


class KeywordCouponGrant(BaseModel):
    rule = peewee.CharField(max_length=100)
    openid = peewee.CharField(max_length=64)
    coupon_code = peewee.CharField(max_length=32)
    granted_at = ShanghaiDateTimeField()

    class Meta:
        indexes = ((("rule", "openid"), True),)


@dataclass(frozen=True)
class Grant:
    """`outcome`: issued (now), already (earlier: `coupon` is that one), gone (stock out), closed (no such active
    template). `title` names what the coupon gives, when the template is known."""

    outcome: str
    coupon: Coupon | None = None
    title: str = ""


def grant_coupon(openid: str, rule: str, template_code: str, now: datetime) -> Grant:
    """Give the follower the rule's coupon unless this rule gave them one already."""
    earlier = _earlier(openid, rule)
    if earlier is not None:
        return earlier
    try:
        with write_transaction():
            coupon = issue_coupon(openid, template_code, now, source=SOURCE)
            KeywordCouponGrant.create(rule=rule, openid=openid, coupon_code=coupon.code, granted_at=now)
    except peewee.IntegrityError:  # the same follower's other message got there first
        return _earlier(openid, rule) or Grant(ALREADY)
    except CouponsGone:
        return Grant(GONE, title=_title(template_code))
    except UnknownTemplate:
        return Grant(CLOSED)
    return Grant(ISSUED, coupon, coupon.template.describe())


def _earlier(openid: str, rule: str) -> Grant | None:
    row = KeywordCouponGrant.get_or_none(KeywordCouponGrant.rule == rule, KeywordCouponGrant.openid == openid)
    if row is None:
        return None
    coupon = Coupon.select(Coupon, CouponTemplate).join(CouponTemplate).where(Coupon.code == row.coupon_code).first()
    return Grant(ALREADY, coupon, coupon.template.describe() if coupon else "")


def _title(template_code: str) -> str:
    template = CouponTemplate.get_or_none(CouponTemplate.code == template_code)
    return template.describe() if template else ""
