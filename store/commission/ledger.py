"""The commission ledger: earned when a referred buyer's order is paid, reversed in proportion to refunds,
confirmed once the after-sales window has closed.

* Attribution is the buyer's first touch (`Follower.source_scene`, kept by `store.members.followers`): the scene
  of a referrer QR code whose referrer is a promoter. A promoter buying through their own code earns nothing.
* Each paid line earns `line.paid_fen × the SKU's commission_rate`, rounded down to the fen; a line whose SKU
  has no rate earns nothing (no row).
* A refund sets each commission of the order to have `amount × refunded ÷ paid` (rounded down; all of it on a
  full refund) taken back. Setting a target rather than adding makes a replayed refund harmless, and the
  UPDATE only ever raises `reversed_fen`, so two refunds finishing in either order leave the larger target.
* The sweep confirms by moving one watermark (a `SweepMark`, under its row lock) to now − the window: every
  commission paid by then is confirmed, at once and exactly once; the mark never moves back. A refund racing it
  touches only `reversed_fen`, so each is applied once whatever the order. A commission confirmed and later
  refunded stays confirmed and shows the reversal (to settle against the next payout).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import peewee

from store.catalog.products import Sku
from store.commission.models import CONFIRMED, PENDING, REVERSED, Commission, Promoter
from store.core.clock import SHANGHAI
from store.core.db import is_sqlite, write_transaction
from store.members.followers import Follower
from store.members.points_expiry import SweepMark
from store.members.qrcodes import REFERRER, QrCode
from store.orders.checkout import Order, OrderLine

BASIS = 10000
CONFIRM_MARK = "commission_confirmed"
EPOCH = datetime(2000, 1, 1, tzinfo=SHANGHAI)


def promoter_of(buyer_openid: str) -> str | None:
    """The promoter who brought this buyer (first touch), or None."""
    row = (
        Promoter.select(Promoter.openid)
        .join(QrCode, on=(QrCode.referrer_openid == Promoter.openid))
        .join(Follower, on=(Follower.source_scene == QrCode.scene))
        .where(Follower.openid == buyer_openid, QrCode.purpose == REFERRER, Promoter.openid != buyer_openid)
        .tuples()
        .first()
    )
    return row[0] if row else None


def record_order(order: Order, now: datetime) -> int:
    """Record the commissions of a just-paid order (inside the payment's transaction); returns how many fen."""
    promoter = promoter_of(order.openid)
    if promoter is None:
        return 0
    rows = []
    lines = (
        OrderLine.select(OrderLine, Sku.commission_bp)
        .join(Sku, on=(Sku.id == OrderLine.sku_id))
        .where(OrderLine.order == order.id, Sku.commission_bp > 0)
        .objects()
    )
    for line in lines:
        amount = line.paid_fen * line.commission_bp // BASIS
        if amount > 0:
            rows.append({
                "order_no": order.order_no, "line_id": line.id, "promoter_openid": promoter,
                "buyer_openid": order.openid, "sku_code": line.sku_code, "title": line.title[:255],
                "base_fen": line.paid_fen, "rate_bp": line.commission_bp, "amount_fen": amount, "earned_at": now,
            })  # fmt: skip
    if rows:
        Commission.insert_many(rows).on_conflict_ignore().execute()
    return sum(r["amount_fen"] for r in rows)


def reverse_for_refund(order_no: str, refunded_fen: int, paid_fen: int, now: datetime) -> int:
    """Take back the share of each of the order's commissions that `refunded_fen` (all refunds so far) is of
    `paid_fen` (inside the refund's transaction); returns how many fen this call took back."""
    taken = 0
    lines = OrderLine.select(OrderLine.id).join(Order).where(Order.order_no == order_no)
    for row in Commission.select().where(Commission.line_id.in_(lines)):
        target = row.amount_fen if refunded_fen >= paid_fen else row.amount_fen * refunded_fen // paid_fen
        moved = (
            Commission.update(
                reversed_fen=target,
                reversed_at=now,
                status=peewee.Case(None, [(Commission.amount_fen <= target, REVERSED)], Commission.status),
            )
            .where(Commission.line_id == row.line_id, Commission.reversed_fen < target)
            .execute()
        )
        if moved:
            taken += target - row.reversed_fen
    return taken


def confirmed_through() -> datetime | None:
    """The watermark: commissions paid at or before it are confirmed (None: nothing confirmed yet)."""
    row = SweepMark.select(SweepMark.through).where(SweepMark.name == CONFIRM_MARK).first()
    return row.through if row else None


def is_confirmed(through: datetime | None) -> Any:
    """SQL: the commission is confirmed (paid at or before the watermark, not wholly reversed)."""
    if through is None:
        return peewee.SQL("1 = 0")
    return (Commission.earned_at <= through) & (Commission.status == PENDING)


def status_of(row: Commission, through: datetime | None) -> str:
    if row.status == PENDING and through is not None and row.earned_at <= through:
        return CONFIRMED
    return row.status


def confirm_due(now: datetime, window_days: int) -> int:
    """Move the watermark to `now - window_days` (never back): every commission paid by then whose after-sales
    window has closed is confirmed. Returns how many commissions this run confirmed."""
    through = now - timedelta(days=window_days)
    with write_transaction():
        SweepMark.insert(name=CONFIRM_MARK, through=EPOCH).on_conflict_ignore().execute()
        query = SweepMark.select(SweepMark.through).where(SweepMark.name == CONFIRM_MARK)
        before = (query if is_sqlite() else query.for_update()).get().through
        if before >= through:
            return 0
        newly = (
            Commission.select()
            .where(Commission.status == PENDING, Commission.earned_at > before, Commission.earned_at <= through)
            .count()
        )
        SweepMark.update(through=through).where(SweepMark.name == CONFIRM_MARK).execute()
    return newly
