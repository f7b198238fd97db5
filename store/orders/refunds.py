"""Refunds: requested (a row, in one transaction), submitted to WeChat Pay through the injected `PayGateway`
(outside any transaction), and settled once WeChat says how it went. Every step is a conditional UPDATE on
the refund's status, so a retried job, a second operator click or the sweep never refunds twice.

* Idempotent by refund number: `request_refund(..., refund_no="…")` with a number already used returns that
  refund (or raises `RefundConflict` when the order or amount differ); WeChat itself treats a repeated
  out_refund_no as the same refund. Without a number one is made: `{order_no}R{n}`.
* Amounts: positive, and all refunds of an order (requested, in flight or done) never exceed what was paid.
* Restock rules: a refund restocks only units that never left the warehouse. A full refund of an order that
  has not shipped puts every line back (`release_stock`); a partial refund restocks only the lines and
  quantities named in `restock` (the operator says which items are refunded). Once an order has shipped,
  nothing is restocked automatically — returned goods come back through after-sales, which restocks on
  receipt. Each line's `restocked_qty` caps what can ever be put back. Late-payment refunds restock nothing
  (the cancellation already did).
* On success: the order's `refunded_fen` grows and its status settles (`refunded` / `partially_refunded`);
  the member's spend goes down and earned points are clawed back in proportion; the points used come back in
  proportion too (`points_returned`: rounded down per refund, all of them once the order is fully refunded), and
  a **full** refund also returns the coupons (while still valid). A partial refund returns no coupon. The
  promoter's commission on the order is reversed in the same proportion (`store.commission.ledger`).
* On a permanent refusal the refund is `failed` (with WeChat's code) and the order settles back; transient
  errors leave it `pending` for the sweep (`refunds_to_submit`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

import peewee

from store.catalog.inventory import UnknownSku, release_stock
from store.commission import ledger as commission
from store.core.db import write_transaction
from store.core.hot_sql import Insert
from store.members import accounts as members
from store.members.accounts import MemberRules
from store.orders.checkout import (
    COMPLETED,
    GROUP_FAILED,
    GROUPING,
    PAID,
    PARTIALLY_REFUNDED,
    REFUNDING,
    SHIPPED,
    Order,
    OrderLine,
    locked_order,
    settled_status,
)
from store.orders.payments import (
    FAILED,
    LATE_PAYMENT,
    PENDING,
    REQUEST,
    SUBMITTED,
    SUCCEEDED,
    PayError,
    PayGateway,
    Refund,
)
from store.promotions import coupons as coupon_store

REFUNDABLE = frozenset({PAID, SHIPPED, COMPLETED, PARTIALLY_REFUNDED, REFUNDING, GROUPING, GROUP_FAILED})


class RefundError(ValueError):
    """The refund cannot be requested; the message says why (for the operator)."""


class RefundConflict(RefundError):
    pass


def _encode(restock: Mapping[int, int]) -> str:
    return ",".join(f"{line}:{qty}" for line, qty in sorted(restock.items()) if qty > 0)


def _decode(text: str) -> dict[int, int]:
    pairs = (part.split(":") for part in text.split(",") if part)
    return {int(line): int(qty) for line, qty in pairs}


def request_refund(
    order_no: str, amount_fen: int, reason: str, now: datetime, *, refund_no: str | None = None,
    restock: Mapping[int, int] | None = None,
) -> Refund:  # fmt: skip
    """Create a pending refund (see the module docstring); submit it with `submit_refund`."""
    if refund_no is not None:
        existing = Refund.get_or_none(Refund.refund_no == refund_no)
        if existing is not None:
            return _same(existing, order_no, amount_fen)
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise RefundError("amount_fen must be a positive integer")
    try:
        with write_transaction():
            order = locked_order(order_no)
            if order is None:
                raise RefundError(f"no order {order_no}")
            if order.status not in REFUNDABLE:
                raise RefundError(f"order {order_no} is {order.status}: nothing to refund")
            committed = committed_refunds(order_no)
            if amount_fen > order.payable_fen - committed:
                raise RefundError(
                    f"refund {amount_fen} exceeds what is left to refund ({order.payable_fen - committed} fen)"
                )
            plan = _restock_plan(order, amount_fen == order.payable_fen - committed, restock)
            count = Refund.select().where(Refund.order_no == order_no).count()
            refund = Refund.create(
                refund_no=refund_no or f"{order_no}R{count + 1}", order_no=order_no, kind=REQUEST,
                amount_fen=amount_fen, total_fee=order.payable_fen, reason=reason[:80], restock=_encode(plan),
                created_at=now,
            )  # fmt: skip
            Order.update(status=REFUNDING).where(Order.id == order.id).execute()
            return refund
    except peewee.IntegrityError:  # the same refund number, requested concurrently
        if refund_no is None:
            raise
        return _same(Refund.get(Refund.refund_no == refund_no), order_no, amount_fen)


def _same(refund: Refund, order_no: str, amount_fen: int) -> Refund:
    if refund.order_no != order_no or refund.amount_fen != amount_fen:
        raise RefundConflict(
            f"refund number {refund.refund_no} was used for {refund.order_no} / {refund.amount_fen} fen"
        )
    return refund


def committed_refunds(order_no: str) -> int:
    """Fen refunded or on their way back for the order's own refunds (late-payment refunds are separate money)."""
    total = (
        Refund.select(peewee.fn.COALESCE(peewee.fn.SUM(Refund.amount_fen), 0))
        .where(Refund.order_no == order_no, Refund.kind == REQUEST, Refund.status != FAILED)
        .scalar()
    )
    return int(total or 0)


def _restock_plan(order: Order, full: bool, restock: Mapping[int, int] | None) -> dict[int, int]:
    lines = {line.id: line for line in OrderLine.select().where(OrderLine.order == order.id)}
    if restock is None:
        if not full or order.shipped_at is not None:
            return {}
        return {line_id: line.quantity - line.restocked_qty for line_id, line in lines.items()}
    plan = {}
    for line_id, qty in restock.items():
        line = lines.get(int(line_id))
        if line is None:
            raise RefundError(f"order {order.order_no} has no line {line_id}")
        if not isinstance(qty, int) or qty < 0 or qty > line.quantity - line.restocked_qty:
            raise RefundError(f"line {line_id}: can restock 0..{line.quantity - line.restocked_qty}, not {qty!r}")
        plan[line.id] = qty
    return plan


_INSERT_REFUNDS = Insert(
    Refund, ("refund_no", "order_no", "kind", "amount_fen", "total_fee", "reason", "status", "restock", "attempts",
             "created_at")
)


M = TypeVar("M", bound=peewee.Model)


def request_full_refunds(
    orders: Sequence[Order], reason: str, now: datetime, refund_no: Callable[[str], str]
) -> list[str]:
    """Inside a write transaction that holds `orders` (read with `id`, `order_no`, `payable_fen`, `shipped_at`):
    request the whole of each unshipped order back, its lines restocked when it succeeds, as `request_refund`
    would one by one, in a few statements for a sweep's batch. An order with a refund committed already is left
    (an operator refunded it by hand; nothing is owed). The refund numbers requested."""
    if not orders:
        return []
    numbers = [o.order_no for o in orders]
    refunded = Refund.select(Refund.order_no).where(
        Refund.order_no.in_(numbers), Refund.kind == REQUEST, Refund.status != FAILED
    )
    committed = {row[0] for row in refunded.tuples()}
    owed = [o for o in orders if o.order_no not in committed]
    plans: dict[int, dict[int, int]] = {o.id: {} for o in owed if o.shipped_at is None}
    lines = OrderLine.select(OrderLine.id, OrderLine.order, OrderLine.quantity, OrderLine.restocked_qty)
    for line in lines.where(OrderLine.order.in_(list(plans))) if plans else ():
        plans[line.order_id][line.id] = line.quantity - line.restocked_qty
    rows = [
        {"refund_no": refund_no(o.order_no), "order_no": o.order_no, "kind": REQUEST, "amount_fen": o.payable_fen,
         "total_fee": o.payable_fen, "reason": reason[:80], "status": PENDING, "restock": _encode(plans.get(o.id, {})),
         "attempts": 0, "created_at": now}
        for o in owed if o.payable_fen > 0
    ]  # fmt: skip
    if not rows:
        return []
    _INSERT_REFUNDS.execute_new(rows)
    Order.update(status=REFUNDING).where(Order.order_no.in_([r["order_no"] for r in rows])).execute()
    return [r["refund_no"] for r in rows]


def settled_by_refund(model: type[M], refunding: str, limit: int) -> list[tuple[M, bool]]:
    """Rows of `model` (an after-sales ticket or compensation: `status`, `refund_no`) still `refunding` whose
    refund WeChat has settled, each with whether the money went back."""
    query = (
        model.select(model, Refund.status.alias("refund_status"))
        .join(Refund, on=(Refund.refund_no == model.refund_no))
        .where(model.status == refunding, Refund.status.in_([SUCCEEDED, FAILED]))
        .limit(limit)
    )
    return [(row, row.refund_status == SUCCEEDED) for row in list(query.objects())]


# ---- talking to WeChat Pay ---------------------------------------------------------------------------------------


def submit_refund(refund_no: str, pay: PayGateway, now: datetime, rules: MemberRules) -> Refund:
    """Send a pending refund to WeChat Pay and record the answer; safe to call again at any point."""
    refund = Refund.get(Refund.refund_no == refund_no)
    if refund.status == PENDING:
        Refund.update(attempts=Refund.attempts + 1).where(Refund.id == refund.id).execute()
        try:
            refund_id = pay.refund(refund.order_no, refund.refund_no, refund.total_fee, refund.amount_fen,
                                   refund.reason)  # fmt: skip
        except PayError as exc:
            if exc.retryable:
                _note_error(refund, exc)
                return Refund.get_by_id(refund.id)
            refund_failed(refund_no, f"{exc.code}: {exc.message}", now, rules)
            return Refund.get_by_id(refund.id)
        with write_transaction():
            Refund.update(status=SUBMITTED, refund_id=refund_id, submitted_at=now, error=None).where(
                Refund.id == refund.id, Refund.status == PENDING
            ).execute()
    return sync_refund(refund_no, pay, now, rules)


def sync_refund(refund_no: str, pay: PayGateway, now: datetime, rules: MemberRules) -> Refund:
    """Ask WeChat how a submitted refund went and settle it when it is final."""
    refund = Refund.get(Refund.refund_no == refund_no)
    if refund.status != SUBMITTED:
        return refund
    try:
        status = pay.refund_status(refund_no)
    except PayError as exc:
        _note_error(refund, exc)
        return Refund.get_by_id(refund.id)
    if status == "SUCCESS":
        refund_succeeded(refund_no, now, rules)
    elif status in ("CHANGE", "REFUNDCLOSE"):
        refund_failed(refund_no, f"WeChat refund status {status}", now, rules)
    return Refund.get_by_id(refund.id)


def _note_error(refund: Refund, exc: PayError) -> None:
    with write_transaction():
        Refund.update(error=str(exc)[:200]).where(Refund.id == refund.id).execute()


def refund_succeeded(refund_no: str, now: datetime, rules: MemberRules) -> bool:
    """WeChat refunded: settle the order, stock, spend, points and coupons — once (False if already final)."""
    with write_transaction():
        moved = (
            Refund.update(status=SUCCEEDED, finished_at=now, error=None)
            .where(Refund.refund_no == refund_no, Refund.status.in_([PENDING, SUBMITTED]))
            .execute()
        )
        if not moved:
            return False
        refund = Refund.get(Refund.refund_no == refund_no)
        if refund.kind == LATE_PAYMENT:
            return True
        order = locked_order(refund.order_no)
        assert order is not None
        before = order.refunded_fen
        Order.update(refunded_fen=Order.refunded_fen + refund.amount_fen).where(Order.id == order.id).execute()
        for line_id, qty in _decode(refund.restock).items():
            capped = (
                OrderLine.update(restocked_qty=OrderLine.restocked_qty + qty)
                .where(OrderLine.id == line_id, OrderLine.restocked_qty + qty <= OrderLine.quantity)
                .execute()
            )
            if capped:
                with contextlib.suppress(UnknownSku):  # deleted from the catalog since: nothing to put back
                    release_stock(OrderLine.get_by_id(line_id).sku_id, qty)
        members.record_refund(
            order.openid, order.order_no, refund.amount_fen, refund.refund_no, now, rules, paid_fen=order.payable_fen,
            refunded_before_fen=before,
        )  # fmt: skip
        commission.reverse_for_refund(order.order_no, before + refund.amount_fen, order.payable_fen, now)
        returned = points_returned(order.points_used, order.payable_fen, before, before + refund.amount_fen)
        members.return_points(order.openid, returned, order.order_no, now)
        if before + refund.amount_fen >= order.payable_fen:
            coupon_store.restore_used_coupons(order.order_no, now)
        _settle(order.order_no)
    return True


def points_returned(points_used: int, paid_fen: int, refunded_before_fen: int, refunded_after_fen: int) -> int:
    """The points one refund gives back: the share of the points used that the refunded share of the payment
    stands for, counted on the running total so that rounding never loses or doubles a point across refunds."""
    if points_used <= 0 or paid_fen <= 0:
        return 0

    def owed(refunded: int) -> int:
        return points_used * min(refunded, paid_fen) // paid_fen

    return owed(refunded_after_fen) - owed(refunded_before_fen)


def refund_failed(refund_no: str, error: str, now: datetime, rules: MemberRules) -> bool:
    with write_transaction():
        moved = (
            Refund.update(status=FAILED, finished_at=now, error=error[:200])
            .where(Refund.refund_no == refund_no, Refund.status.in_([PENDING, SUBMITTED]))
            .execute()
        )
        if moved:
            refund = Refund.get(Refund.refund_no == refund_no)
            if refund.kind == REQUEST:
                _settle(refund.order_no)
    return bool(moved)


def _settle(order_no: str) -> None:
    order = locked_order(order_no)
    assert order is not None
    in_flight = (
        Refund.select()
        .where(Refund.order_no == order_no, Refund.kind == REQUEST, Refund.status.in_([PENDING, SUBMITTED]))
        .exists()
    )
    Order.update(status=settled_status(order, in_flight)).where(Order.id == order.id).execute()


def refunds_to_submit(limit: int = 100) -> list[str]:
    """Pending and submitted refunds, oldest first: what the refund sweep pushes along."""
    query = (
        Refund.select(Refund.refund_no)
        .where(Refund.status.in_([PENDING, SUBMITTED]))
        .order_by(Refund.id)
        .limit(limit)
    )
    return [row.refund_no for row in query]
