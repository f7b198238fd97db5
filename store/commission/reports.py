"""What promoters and operators read: a promoter's earnings (chat's 我的佣金) and the settlement report of a
period (CSV and admin JSON). Money is integer fen; `net` is what the promoter keeps (amount − reversed)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import peewee

from store.commission.ledger import confirmed_through, is_confirmed, status_of
from store.commission.models import PENDING, Commission, Promoter
from store.core.clock import SHANGHAI

NET = Commission.amount_fen - Commission.reversed_fen


def _sum_net_when(condition: Any) -> Any:
    return peewee.fn.COALESCE(peewee.fn.SUM(peewee.Case(None, [(condition, NET)], 0)), 0)


@dataclass(frozen=True)
class Earnings:
    pending_fen: int  # still inside the after-sales window
    confirmed_fen: int  # window closed: owed to the promoter
    reversed_fen: int  # taken back by refunds
    month_fen: int  # net earned by orders paid this calendar month
    orders: int


def earnings(openid: str, now: datetime) -> Earnings:
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    confirmed = is_confirmed(confirmed_through())
    row = (
        Commission.select(
            _sum_net_when((Commission.status == PENDING) & ~confirmed),
            _sum_net_when(confirmed),
            peewee.fn.COALESCE(peewee.fn.SUM(Commission.reversed_fen), 0),
            _sum_net_when(Commission.earned_at >= month_start),
            peewee.fn.COUNT(peewee.fn.DISTINCT(Commission.order_no)),
        )
        .where(Commission.promoter_openid == openid)
        .tuples()
        .first()
    )
    return Earnings(*(int(v or 0) for v in row))  # type: ignore[union-attr]


class PeriodInvalid(ValueError):
    pass


def period(start: str, end: str) -> tuple[datetime, datetime]:
    """`YYYY-MM-DD` .. `YYYY-MM-DD` (both days included, Asia/Shanghai) as [from, to) datetimes."""
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except (TypeError, ValueError):
        raise PeriodInvalid("from and to must be dates, YYYY-MM-DD") from None
    if last < first:
        raise PeriodInvalid("to is before from")
    return datetime.combine(first, time(), SHANGHAI), datetime.combine(last + timedelta(days=1), time(), SHANGHAI)


@dataclass(frozen=True)
class PromoterLine:
    promoter: str
    orders: int
    earned_fen: int
    reversed_fen: int
    pending_fen: int
    confirmed_fen: int  # the payout: confirmed, net of reversals


COLUMNS = tuple(PromoterLine.__dataclass_fields__)


def settlement(start: datetime, end: datetime) -> list[PromoterLine]:
    """Per promoter, the commissions of orders paid in [start, end), the largest confirmed amount first."""
    confirmed = is_confirmed(confirmed_through())
    query = (
        Commission.select(
            Commission.promoter_openid,
            peewee.fn.COUNT(peewee.fn.DISTINCT(Commission.order_no)),
            peewee.fn.SUM(Commission.amount_fen),
            peewee.fn.SUM(Commission.reversed_fen),
            _sum_net_when((Commission.status == PENDING) & ~confirmed),
            _sum_net_when(confirmed),
        )
        .where(Commission.earned_at >= start, Commission.earned_at < end)
        .group_by(Commission.promoter_openid)
        .tuples()
    )
    lines = [PromoterLine(openid, *(int(v or 0) for v in rest)) for openid, *rest in query]
    return sorted(lines, key=lambda line: (-line.confirmed_fen, line.promoter))


def commission_lines(start: datetime, end: datetime, limit: int = 1000) -> list[dict[str, Any]]:
    """The commissions themselves, newest first (the report's detail)."""
    through = confirmed_through()
    query = (
        Commission.select()
        .where(Commission.earned_at >= start, Commission.earned_at < end)
        .order_by(Commission.earned_at.desc(), Commission.line_id.desc())
        .limit(limit)
    )
    return [
        {"order_no": c.order_no, "promoter": c.promoter_openid, "buyer": c.buyer_openid, "sku_code": c.sku_code,
         "title": c.title, "base_fen": c.base_fen, "rate_bp": c.rate_bp, "amount_fen": c.amount_fen,
         "reversed_fen": c.reversed_fen, "status": status_of(c, through), "earned_at": c.earned_at,
         "reversed_at": c.reversed_at}
        for c in query
    ]  # fmt: skip


def settlement_csv(lines: list[PromoterLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow(asdict(line).values())
    return out.getvalue()


def promoters() -> list[dict[str, Any]]:
    return [{"openid": p.openid, "scene": p.scene, "created_at": p.created_at}
            for p in Promoter.select().order_by(Promoter.id)]  # fmt: skip
