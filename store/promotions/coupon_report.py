"""What operators see of coupon templates: each with how many coupons were issued and what became of them, and
switching a template off (no new coupons; those issued stay usable)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import peewee

from store.core.db import write_transaction
from store.promotions.coupons import AVAILABLE, EXPIRED, LOCKED, USED, Coupon, CouponTemplate


@dataclass(frozen=True)
class TemplateReport:
    code: str
    title: str
    kind: str
    value: int
    threshold_fen: int
    valid_days: int
    active: bool
    created_at: datetime
    stock: int | None  # coupons still to give out; None: no limit
    issued: int
    available: int  # usable now
    locked: int  # held by an unpaid order
    used: int
    expired: int  # marked expired, or still `available` past its validity (the sweep has not run yet)
    use_rate: float | None  # used / issued

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def template_report(now: datetime) -> list[TemplateReport]:
    """Every template, newest first, with its coupons counted by what became of them (one grouped query)."""
    past = Coupon.expires_at <= now
    state = peewee.Case(None, [((Coupon.status == AVAILABLE) & past, EXPIRED)], Coupon.status)
    counts: dict[int, dict[str, int]] = {}
    query = Coupon.select(Coupon.template, state.alias("state"), peewee.fn.COUNT(Coupon.id).alias("n")).group_by(
        Coupon.template, state
    )
    for template_id, status, n in query.tuples():
        counts.setdefault(template_id, {})[status] = n
    reports = []
    for t in CouponTemplate.select().order_by(CouponTemplate.created_at.desc(), CouponTemplate.id.desc()):
        mine = counts.get(t.id, {})
        issued = sum(mine.values())
        report = TemplateReport(
            code=t.code, title=t.describe(), kind=t.kind, value=t.value, threshold_fen=t.threshold_fen,
            valid_days=t.valid_days, active=t.active, created_at=t.created_at, stock=t.stock, issued=issued,
            available=mine.get(AVAILABLE, 0), locked=mine.get(LOCKED, 0), used=mine.get(USED, 0),
            expired=mine.get(EXPIRED, 0), use_rate=mine.get(USED, 0) / issued if issued else None,
        )  # fmt: skip
        reports.append(report)
    return reports


def set_template_active(code: str, active: bool) -> bool:
    """Switch a template on or off; False when there is no such template."""
    with write_transaction():
        return bool(CouponTemplate.update(active=active).where(CouponTemplate.code == code).execute())
