"""Coupons: templates operators define, coupons issued to followers, and the lock → use / release cycle checkout
drives. Every state change is one conditional UPDATE (`... WHERE status = 'available' AND ...`), so two orders
can never lock the same coupon, and a release or a use happens once however often it is retried.

Status: `available` → `locked` (by one unpaid order) → `used` (that order was paid), or back to `available`
(the order was cancelled; `expired` instead when its validity ended meanwhile). `expired` is also set by
`expire_coupons` (a sweep), but availability is always checked against `expires_at`, never the status alone.
The members issue adds issuance sources (new-follower gift, birthday) and "我的优惠券" on top of this.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, write_transaction
from store.orders.pricing import CouponKind, CouponOffer, describe_coupon

AVAILABLE, LOCKED, USED, EXPIRED = "available", "locked", "used", "expired"
STATUS_LABELS = {AVAILABLE: "可使用", LOCKED: "已锁定（待支付订单）", USED: "已使用", EXPIRED: "已过期"}


class CouponTemplate(BaseModel):
    """What a coupon is worth: `value` is fen off (fixed, threshold) or the percentage paid (percent: 90 = 9折)."""

    code = peewee.CharField(max_length=32, unique=True)
    title = peewee.CharField(max_length=64, default="")
    kind = peewee.CharField(max_length=16)
    value = peewee.IntegerField()
    threshold_fen = peewee.BigIntegerField(default=0)
    valid_days = peewee.IntegerField(default=30)
    active = peewee.BooleanField(default=True)
    created_at = ShanghaiDateTimeField()
    stock = peewee.IntegerField(null=True)  # coupons still to give out; None: as many as asked for

    @property
    def coupon_kind(self) -> CouponKind:
        return CouponKind(self.kind)

    def describe(self) -> str:
        return self.title or describe_coupon(self.coupon_kind, self.value, self.threshold_fen)


class Coupon(BaseModel):
    """One coupon issued to one follower; `code` is what the buyer (and the chat flow) names it by."""

    code = peewee.CharField(max_length=32, unique=True)
    template = peewee.ForeignKeyField(CouponTemplate, backref="coupons", on_delete="RESTRICT")
    openid = peewee.CharField(max_length=64, index=True)
    status = peewee.CharField(max_length=16, default=AVAILABLE, index=True)
    source = peewee.CharField(max_length=32, default="")
    issued_at = ShanghaiDateTimeField()
    expires_at = ShanghaiDateTimeField(index=True)
    locked_by = peewee.CharField(max_length=32, null=True, index=True)  # the order number holding it
    locked_at = ShanghaiDateTimeField(null=True)
    used_at = ShanghaiDateTimeField(null=True)

    def offer(self, unavailable: str | None = None) -> CouponOffer:
        template: CouponTemplate = self.template
        return CouponOffer(
            code=self.code, kind=template.coupon_kind, value=template.value, threshold_fen=template.threshold_fen,
            title=template.describe(), expires_at=self.expires_at, unavailable=unavailable,
        )  # fmt: skip


class CouponError(Exception):
    """A coupon operation was refused; the message is fit for the buyer."""


class TemplateInvalid(CouponError):
    """`problems` lists every one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UnknownTemplate(CouponError):
    pass


class TemplateExists(CouponError):
    pass


class CouponsGone(CouponError):
    """The template's stock is used up."""


TEMPLATE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")


def validate_template(
    kind: str, value: int, threshold_fen: int, valid_days: int, stock: int | None = None
) -> list[str]:
    problems = []
    if stock is not None and stock < 0:
        problems.append("stock must be >= 0 (or left out for no limit)")
    if kind not in {k.value for k in CouponKind}:
        problems.append(f"kind must be one of {', '.join(k.value for k in CouponKind)}")
    elif kind == CouponKind.PERCENT and not 0 < value < 100:
        problems.append("a percent coupon's value is the percentage paid, 1..99 (90 = 9折)")
    elif kind != CouponKind.PERCENT and value <= 0:
        problems.append("value must be a positive number of fen")
    if kind == CouponKind.THRESHOLD and threshold_fen <= 0:
        problems.append("a threshold coupon needs threshold_fen > 0")
    if kind == CouponKind.THRESHOLD and 0 < threshold_fen <= value:
        problems.append("threshold_fen must be more than value")
    if threshold_fen < 0:
        problems.append("threshold_fen must be >= 0")
    if valid_days <= 0:
        problems.append("valid_days must be positive")
    return problems


def create_template(
    code: str, kind: str, value: int, now: datetime, *, threshold_fen: int = 0, valid_days: int = 30, title: str = "",
    stock: int | None = None,
) -> CouponTemplate:
    """A new template; `TemplateInvalid` listing every problem, `TemplateExists` when the code is taken (the unique
    code decides a race). `stock`: how many coupons it may give out (None: no limit)."""
    problems = validate_template(kind, value, threshold_fen, valid_days, stock)
    if not TEMPLATE_CODE.fullmatch(code):
        problems.insert(0, "code must be 1-32 letters, digits, '_' or '-', starting with a letter or digit")
    if len(title) > 64:
        problems.append("title must be at most 64 characters")
    if problems:
        raise TemplateInvalid(problems)
    try:
        with write_transaction():
            return CouponTemplate.create(
                code=code, title=title, kind=kind, value=value, threshold_fen=threshold_fen, valid_days=valid_days,
                created_at=now, stock=stock,
            )  # fmt: skip
    except peewee.IntegrityError:
        raise TemplateExists(f"coupon template {code!r} exists already") from None


def issue_coupon(openid: str, template_code: str, now: datetime, source: str = "") -> Coupon:
    """Give `openid` one coupon of the template, valid `valid_days` from now; `CouponsGone` when its stock is out."""
    template = CouponTemplate.get_or_none(CouponTemplate.code == template_code, CouponTemplate.active == True)  # noqa: E712
    if template is None:
        raise UnknownTemplate(f"no active coupon template {template_code!r}")
    with write_transaction():
        if template.stock is not None:
            taken = (
                CouponTemplate.update(stock=CouponTemplate.stock - 1)
                .where(CouponTemplate.id == template.id, CouponTemplate.stock > 0)
                .execute()
            )
            if not taken:
                raise CouponsGone(f"coupon template {template_code!r} has no coupons left")
        return Coupon.create(
            code=f"C{secrets.token_hex(6).upper()}", template=template, openid=openid, source=source, issued_at=now,
            expires_at=now + timedelta(days=template.valid_days),
        )  # fmt: skip


def available_coupons(openid: str, now: datetime) -> list[Coupon]:
    """The follower's coupons usable now, soonest to expire first (the order "我的优惠券" shows them in)."""
    query = (
        Coupon.select(Coupon, CouponTemplate)
        .join(CouponTemplate)
        .where(Coupon.openid == openid, Coupon.status == AVAILABLE, Coupon.expires_at > now)
        .order_by(Coupon.expires_at, Coupon.id)
    )
    return list(query)


def offers_for(openid: str, codes: Sequence[str], now: datetime) -> list[CouponOffer]:
    """The buyer's picked coupons as pricing sees them; any that cannot be used carries the reason."""
    if not codes:
        return []
    found = {
        c.code: c
        for c in Coupon.select(Coupon, CouponTemplate).join(CouponTemplate).where(Coupon.code.in_(list(codes)))
    }
    offers = []
    for code in dict.fromkeys(codes):  # a code named twice is one coupon
        coupon = found.get(code)
        if coupon is None or coupon.openid != openid:
            offers.append(_missing(code))
        elif coupon.status == USED:
            offers.append(coupon.offer("已经用过了"))
        elif coupon.status == LOCKED:
            offers.append(coupon.offer(f"已被待支付订单{coupon.locked_by}占用"))
        elif coupon.status == EXPIRED or coupon.expires_at <= now:
            offers.append(coupon.offer(f"已于{coupon.expires_at:%Y-%m-%d %H:%M}过期"))
        else:
            offers.append(coupon.offer())
    return offers


def _missing(code: str) -> CouponOffer:
    return CouponOffer(code=code, kind=CouponKind.FIXED, value=0, title=code, unavailable="没有找到这张优惠券")


def lock_coupons(openid: str, codes: Sequence[str], order_no: str, now: datetime) -> list[str]:
    """Inside the order's transaction: lock each coupon to `order_no`; returns the codes that could NOT be
    locked (someone else's, not available, expired) — the caller then rolls back."""
    refused = []
    for code in codes:
        locked = (
            Coupon.update(status=LOCKED, locked_by=order_no, locked_at=now)
            .where(Coupon.code == code, Coupon.openid == openid, Coupon.status == AVAILABLE, Coupon.expires_at > now)
            .execute()
        )
        if not locked:
            refused.append(code)
    return refused


def release_coupons(order_no: str, now: datetime) -> int:
    """The order was cancelled: its locked coupons go back (or to `expired` if their time is up). Idempotent."""
    return (
        Coupon.update(
            status=peewee.Case(None, [(Coupon.expires_at > now, AVAILABLE)], EXPIRED), locked_by=None, locked_at=None
        )
        .where(Coupon.locked_by == order_no, Coupon.status == LOCKED)
        .execute()
    )


def use_coupons(order_no: str, now: datetime) -> int:
    """The order was paid: its locked coupons are spent. Idempotent."""
    query = Coupon.update(status=USED, used_at=now).where(Coupon.locked_by == order_no, Coupon.status == LOCKED)
    return query.execute()


def restore_used_coupons(order_no: str, now: datetime) -> int:
    """A fully refunded order gives its coupons back while they are still valid. Idempotent."""
    return (
        Coupon.update(status=AVAILABLE, used_at=None, locked_by=None, locked_at=None)
        .where(Coupon.locked_by == order_no, Coupon.status == USED, Coupon.expires_at > now)
        .execute()
    )


def expire_coupons(now: datetime) -> int:
    """Sweep: mark available coupons past their validity as expired (display only; availability checks time)."""
    with write_transaction():
        return (
            Coupon.update(status=EXPIRED)
            .where(Coupon.status == AVAILABLE, Coupon.expires_at <= now)
            .execute()
        )
