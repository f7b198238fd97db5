"""Points validity: earned points expire `points_valid_days` after they were earned (each `earn` entry carries
its `expires_at`), with a reminder `points_reminder_days_before` ahead.

Which points expire: first in, first out. Points used (spent, clawed back, net of returns) and points already
expired are taken from the oldest earnings first, so what is due at time T is
    max(0, earned with expires_at ≤ T + every non-earn delta (spend, return, clawback, expire))
capped by the balance. The formula is cumulative, so a re-run finds nothing left to expire.

Both sweeps are set-based over the members whose earnings expire since the last run (a watermark per sweep in
`SweepMark`, moved in the same transaction, found through the index on `points_entry.expires_at`): one GROUP
BY for the amounts, one INSERT … SELECT for the `expire` entries (or the notices), one UPDATE for the balances.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, datetime_value, is_sqlite, write_transaction
from store.members.accounts import Member, PointsEntry
from store.outbox.kinds import Priority
from store.outbox.notices import enqueue_selected, lint_notice_fields

EARN, EXPIRE = "earn", "expire"
EXPIRY_MARK, REMINDER_MARK = "points_expiry", "points_reminder"


class SweepMark(BaseModel):
    """How far a sweep has got (its `through` time): the next run starts there."""

    name = peewee.CharField(max_length=32, primary_key=True)
    through = ShanghaiDateTimeField()


def _mark(name: str) -> datetime | None:
    query = SweepMark.select(SweepMark.through).where(SweepMark.name == name)
    row = query.first() if is_sqlite() else query.for_update().first()
    return row.through if row else None


def _set_mark(name: str, through: datetime) -> None:
    SweepMark.insert(name=name, through=through).on_conflict(
        conflict_target=[SweepMark.name], preserve=[SweepMark.through]
    ).execute()


def _due(through: datetime) -> peewee.Expression:
    """Per member (grouped by openid): the points that are past validity at `through` and still unused."""
    earned = peewee.Case(
        None, [((PointsEntry.reason == EARN) & (PointsEntry.expires_at <= through), PointsEntry.delta)], 0
    )
    taken = peewee.Case(None, [(PointsEntry.reason != EARN, PointsEntry.delta)], 0)
    return peewee.fn.SUM(earned) + peewee.fn.SUM(taken)


def _amounts(since: datetime | None, through: datetime) -> peewee.ModelSelect:
    """(openid, due) for members with earnings expiring in (since, through], due > 0."""
    window = (PointsEntry.reason == EARN) & (PointsEntry.expires_at <= through)
    if since is not None:
        window &= PointsEntry.expires_at > since
    candidates = PointsEntry.select(PointsEntry.openid).where(window)
    due = _due(through)
    return (
        PointsEntry.select(PointsEntry.openid, due.alias("due"))
        .where(PointsEntry.openid.in_(candidates))
        .group_by(PointsEntry.openid)
        .having(due > 0)
    )


def _capped(amounts: peewee.ModelSelect) -> peewee.Expression:
    return peewee.Case(None, [(amounts.c.due < Member.points, amounts.c.due)], Member.points)


@dataclass(frozen=True)
class ExpiryRun:
    members: int
    points: int


def expire_points(now: datetime) -> ExpiryRun:
    """Expire what is due now: an `expire` entry per member and the balance down by as much."""
    with write_transaction():
        since = _mark(EXPIRY_MARK)
        if since is not None and since >= now:
            return ExpiryRun(0, 0)
        amounts = _amounts(since, now).alias("due_points")
        batch = f"EXP{now:%y%m%d%H%M}{secrets.token_hex(4)}"
        source = (
            Member.select(
                Member.openid, peewee.Value(0) - _capped(amounts), peewee.Value(EXPIRE), peewee.Value(batch),
                datetime_value(now),
            )
            .join(amounts, on=(amounts.c.openid == Member.openid))
            .where(Member.points > 0)
        )
        if not is_sqlite():  # lock the members first: a concurrent spend waits, so the cap stays true
            list(
                Member.select(Member.id)
                .join(amounts, on=(amounts.c.openid == Member.openid))
                .order_by(Member.id)
                .for_update(of=Member)
            )
        members = (
            PointsEntry.insert_from(
                source,
                [PointsEntry.openid, PointsEntry.delta, PointsEntry.reason, PointsEntry.order_no, PointsEntry.at],
            )
            .as_rowcount()
            .execute()
        )
        points = 0
        if members:
            mine = PointsEntry.order_no == batch
            taken = PointsEntry.select(peewee.fn.SUM(PointsEntry.delta)).where(
                mine, PointsEntry.openid == Member.openid
            )
            Member.update(points=Member.points + taken, updated_at=now).where(
                Member.openid.in_(PointsEntry.select(PointsEntry.openid).where(mine))
            ).execute()
            points = -int(PointsEntry.select(peewee.fn.SUM(PointsEntry.delta)).where(mine).scalar() or 0)
        _set_mark(EXPIRY_MARK, now)
    return ExpiryRun(members, points)


def remind_points(now: datetime, days: int) -> int:
    """Queue "您有N积分将于D到期" for members whose earnings expire within `days` (those not reminded yet)."""
    horizon = now + timedelta(days=days)
    date = f"{horizon:%Y-%m-%d}"
    lint_notice_fields("points_expiry", {"points": "1", "expires_at": date})
    with write_transaction():
        since = _mark(REMINDER_MARK)
        since = max(since, now) if since is not None else now
        if since >= horizon:
            return 0
        amounts = _amounts(since, horizon).alias("due_points")
        capped = _capped(amounts)
        fields = (
            peewee.Value(f'{{"expires_at": "{date}", "points": "')
            .concat(peewee.Cast(capped, "TEXT"))
            .concat(peewee.Value('"}'))
        )
        dedup = peewee.Value("points_expiry:").concat(Member.openid).concat(peewee.Value(f":{horizon:%Y%m%d}"))
        source = Member.select().join(amounts, on=(amounts.c.openid == Member.openid)).where(Member.points > 0)
        queued = enqueue_selected(source, Member.openid, "points_expiry", fields, dedup, Priority.MEMBER_CARE, now)
        _set_mark(REMINDER_MARK, horizon)
    return queued


@dataclass(frozen=True)
class Expiring:
    points: int
    first_at: datetime | None  # the earliest expiry among them


def expiring_within(openid: str, now: datetime, days: int) -> Expiring:
    """For "我的积分": how many of the member's points expire within `days` (FIFO, capped by the balance)."""
    horizon = now + timedelta(days=days)
    entries = list(PointsEntry.select().where(PointsEntry.openid == openid).order_by(PointsEntry.expires_at))
    used = -sum(e.delta for e in entries if e.reason != EARN)
    soon, first = 0, None
    for entry in (e for e in entries if e.reason == EARN and e.expires_at is not None):
        left = entry.delta - max(min(used, entry.delta), 0)
        used -= entry.delta - left
        if left > 0 and now < entry.expires_at <= horizon:
            soon += left
            first = first or entry.expires_at
    balance = int(Member.select(Member.points).where(Member.openid == openid).scalar() or 0)
    soon = min(soon, balance)
    return Expiring(soon, first if soon else None)
