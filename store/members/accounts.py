"""Members, minimal: paid spend (cumulative and within the tier year), the points balance, and the tier.

Checkout calls these inside its own transactions (order creation, payment, cancellation, refund), so spend,
points and the order move together or not at all. Spend is a ledger (`SpendEntry`, one row per payment or
refund, unique by its reference) plus a running total on `Member`; the annual figure is summed from the ledger
over the tier year (`rolling`: the last 365 days; `calendar`: since 1 January), so it needs no yearly reset.

Tiers: 黑金 when the annual spend reaches `black_gold_annual_spend_fen`, else VIP when the cumulative spend
reaches `vip_spend_fen`, else 普通. `tier_of` computes it live (pricing uses that); `Member.tier` keeps the tier
as of the last change, so a change can say "before → after"; it queues the tier-change notice
in the same transaction (store.members.tier_notices). A tier that lapses with time is the nightly sweep's
(store.members.tiers).

Points: earned on payment (`points_earn_per_yuan` per whole yuan paid), spent when an order is created
(conditional decrement: never below zero), returned when it is cancelled or fully refunded, and the earned
points are clawed back in proportion to refunds (never below zero: points already spent stay spent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, is_sqlite, write_lock
from store.core.hot_sql import InsertIfNew, Select
from store.members.tier_notices import notify_tier_change
from store.orders.pricing import Tier


class Member(BaseModel):
    openid = peewee.CharField(max_length=64, unique=True)
    tier = peewee.CharField(max_length=16, default=Tier.NORMAL.value)
    total_spend_fen = peewee.BigIntegerField(default=0)
    points = peewee.BigIntegerField(default=0, constraints=[peewee.Check("points >= 0")])
    created_at = ShanghaiDateTimeField()
    updated_at = ShanghaiDateTimeField()


class SpendEntry(BaseModel):
    """One payment (+) or refund (−); `ref` (transaction id, refund number) makes recording it idempotent."""

    openid = peewee.CharField(max_length=64)
    order_no = peewee.CharField(max_length=32)
    ref = peewee.CharField(max_length=64, unique=True)
    amount_fen = peewee.BigIntegerField()
    at = ShanghaiDateTimeField()

    class Meta:
        # amount_fen rides along so per-member sums (the profiles' totals, the tier year) read the index alone
        indexes = ((("openid", "at", "amount_fen"), False),)


class PointsEntry(BaseModel):
    """Every change of a balance, with why; `expires_at` is for the members issue (points validity)."""

    openid = peewee.CharField(max_length=64, index=True)
    delta = peewee.BigIntegerField()
    reason = peewee.CharField(max_length=16)  # earn | spend | return | clawback
    order_no = peewee.CharField(max_length=32, null=True, index=True)
    at = ShanghaiDateTimeField()
    expires_at = ShanghaiDateTimeField(null=True, index=True)  # earned points' validity (store.members.points_expiry)


@dataclass(frozen=True)
class MemberRules:
    vip_spend_fen: int = 500000
    black_gold_annual_spend_fen: int = 5000000
    tier_year: str = "rolling"
    points_earn_per_yuan: int = 1
    points_valid_days: int = 365

    @classmethod
    def from_settings(cls, shop: Any) -> MemberRules:
        return cls(
            vip_spend_fen=int(shop.vip_spend_fen),
            black_gold_annual_spend_fen=int(shop.black_gold_annual_spend_fen),
            tier_year=str(shop.tier_year),
            points_earn_per_yuan=int(getattr(shop, "points_earn_per_yuan", 1)),
            points_valid_days=int(shop.points_valid_days),
        )

    def year_start(self, now: datetime) -> datetime:
        if self.tier_year == "calendar":
            return now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        return now - timedelta(days=365)

    def tier_for(self, total_fen: int, annual_fen: int) -> Tier:
        if annual_fen >= self.black_gold_annual_spend_fen:
            return Tier.BLACK_GOLD
        if total_fen >= self.vip_spend_fen:
            return Tier.VIP
        return Tier.NORMAL


class PointsShort(Exception):
    def __init__(self, wanted: int, balance: int) -> None:
        super().__init__(f"积分不足：需要{wanted}，当前{balance}")
        self.wanted = wanted
        self.balance = balance


_INSERT_MEMBER = InsertIfNew(
    Member,
    [Member.openid, Member.tier, Member.total_spend_fen, Member.points, Member.created_at, Member.updated_at],
    unique=Member.openid,
)


def ensure_member(openid: str, now: datetime) -> None:
    """Create the member row if missing; safe under concurrency (INSERT … ON CONFLICT DO NOTHING). On SQLite it
    queues on the process's writer lock like every write (else it waits in SQLite's sleeping busy handler)."""
    with write_lock():
        _INSERT_MEMBER.execute(openid, Tier.NORMAL.value, 0, 0, now, now)


def member(openid: str) -> Member | None:
    return Member.get_or_none(Member.openid == openid)


def annual_spend(openid: str, now: datetime, rules: MemberRules) -> int:
    total = (
        SpendEntry.select(peewee.fn.COALESCE(peewee.fn.SUM(SpendEntry.amount_fen), 0))
        .where(SpendEntry.openid == openid, SpendEntry.at > rules.year_start(now))
        .scalar()
    )
    return int(total or 0)


def tier_of(openid: str, now: datetime, rules: MemberRules) -> Tier:
    row = member(openid)
    if row is None:
        return Tier.NORMAL
    return rules.tier_for(row.total_spend_fen, annual_spend(openid, now, rules))


def standing(openid: str, now: datetime, rules: MemberRules) -> tuple[Tier, int]:
    """(tier, points balance) in one query for most buyers: the year's spend is summed only when the
    cumulative spend could reach 黑金 at all."""
    row = Member.select(Member.total_spend_fen, Member.points).where(Member.openid == openid).tuples().first()
    if row is None:
        return Tier.NORMAL, 0
    total, points = int(row[0]), int(row[1])
    annual = annual_spend(openid, now, rules) if total >= rules.black_gold_annual_spend_fen else 0
    return rules.tier_for(total, annual), points


def points_balance(openid: str) -> int:
    rows = _points_of(openid)
    return int(rows[0].points or 0) if rows else 0


class _Points(NamedTuple):
    points: int | None


# "我的积分" asks on the chat's hot path: the SQL text is rendered once (store.core.hot_sql says why)
_points_of: Select[_Points] = Select(
    lambda openid: Member.select(Member.points).where(Member.openid == openid), _Points
)


def spend_points(openid: str, points: int, order_no: str, now: datetime) -> None:
    """Inside the order's transaction: take `points` or raise PointsShort (nothing changed)."""
    if points <= 0:
        return
    taken = (
        Member.update(points=Member.points - points, updated_at=now)
        .where(Member.openid == openid, Member.points >= points)
        .execute()
    )
    if not taken:
        raise PointsShort(points, points_balance(openid))
    PointsEntry.create(openid=openid, delta=-points, reason="spend", order_no=order_no, at=now)


def return_points(openid: str, points: int, order_no: str, now: datetime) -> None:
    """Inside a transaction whose status change is the once-only gate (cancel, full refund)."""
    if points <= 0:
        return
    Member.update(points=Member.points + points, updated_at=now).where(Member.openid == openid).execute()
    PointsEntry.create(openid=openid, delta=points, reason="return", order_no=order_no, at=now)


def award_points(openid: str, points: int, ref: str, now: datetime, valid_for: timedelta) -> None:
    """Inside the caller's transaction (whose own once-only gate makes this happen once): credit `points` as
    earned points (they expire first in, first out with the others); `ref` (an after-sales case number) stands
    where an order number would, so no order's refund claws them back."""
    if points <= 0:
        return
    ensure_member(openid, now)
    Member.update(points=Member.points + points, updated_at=now).where(Member.openid == openid).execute()
    PointsEntry.create(openid=openid, delta=points, reason="earn", order_no=ref, at=now, expires_at=now + valid_for)


def record_payment(openid: str, order_no: str, amount_fen: int, ref: str, now: datetime, rules: MemberRules) -> int:
    """Inside the payment's transaction: add spend, earn points, note the tier; returns the points earned."""
    ensure_member(openid, now)
    earned = amount_fen // 100 * rules.points_earn_per_yuan
    _change_spend(openid, order_no, amount_fen, ref, now, rules, points=earned)
    if earned:
        PointsEntry.create(
            openid=openid, delta=earned, reason="earn", order_no=order_no, at=now,
            expires_at=now + timedelta(days=rules.points_valid_days),
        )  # fmt: skip
    return earned


def record_refund(
    openid: str, order_no: str, refund_fen: int, ref: str, now: datetime, rules: MemberRules, *, paid_fen: int,
    refunded_before_fen: int,
) -> int:
    """Inside the refund's transaction: take the spend back and claw back the points the refunded share earned
    (never below a zero balance); returns the points taken."""
    ensure_member(openid, now)
    earned = _earned(order_no)
    kept_after = earned * (paid_fen - refunded_before_fen - refund_fen) // paid_fen if paid_fen else 0
    kept_before = earned * (paid_fen - refunded_before_fen) // paid_fen if paid_fen else 0
    wanted = max(0, kept_before - kept_after)
    balance = int(_locked_member(openid).points)
    taken = min(wanted, balance)
    _change_spend(openid, order_no, -refund_fen, ref, now, rules, points=-taken)
    if taken:
        PointsEntry.create(openid=openid, delta=-taken, reason="clawback", order_no=order_no, at=now)
    return taken


def _earned(order_no: str) -> int:
    total = (
        PointsEntry.select(peewee.fn.COALESCE(peewee.fn.SUM(PointsEntry.delta), 0))
        .where(PointsEntry.order_no == order_no, PointsEntry.reason == "earn")
        .scalar()
    )
    return int(total or 0)


def _locked_member(openid: str) -> Member:
    query = Member.select().where(Member.openid == openid)
    return query.get() if is_sqlite() else query.for_update().get()


def _change_spend(
    openid: str, order_no: str, delta_fen: int, ref: str, now: datetime, rules: MemberRules, *, points: int
) -> None:
    before = _locked_member(openid)
    SpendEntry.create(openid=openid, order_no=order_no, ref=ref, amount_fen=delta_fen, at=now)
    total = before.total_spend_fen + delta_fen
    annual = annual_spend(openid, now, rules)
    tier = rules.tier_for(total, annual)
    Member.update(
        total_spend_fen=Member.total_spend_fen + delta_fen, points=Member.points + points, tier=tier.value,
        updated_at=now,
    ).where(Member.openid == openid).execute()  # fmt: skip
    if tier.value != before.tier:  # the tier-change notice commits (or not) with the spend that caused it
        notify_tier_change(openid, tier, now, cause=ref)
