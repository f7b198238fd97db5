"""Shipping: an operator ships a paid order with a carrier code and a tracking number; virtual orders complete
without logistics. Everything here is synchronous and takes `now`.

* `ship_order(order_no, carrier, tracking_no, now)` — one transaction: the order moves `paid → shipped` by a
  conditional UPDATE, a `Shipment` row is written (unique per order) with its subscription pending, and the
  buyer's `shipped` notice is queued in the outbox. Shipping the same order again with the same parcel returns
  the existing shipment (`created=False`); another parcel is refused (`AlreadyShipped`). The provider is never
  called here: the `subscribe_parcels` job subscribes pending shipments, so shipping never waits on Kuaidi100.
* `ship_many(rows, now)` — the CSV path: every row is checked first (`ShipmentRowsInvalid` lists every problem
  with its line) and then all are shipped in one transaction, or none.
* `complete_virtual(order_no, now)` — a paid order with nothing to ship becomes `completed` (once). The worker's
  `complete_virtual_orders` sweep calls it for every such order; the payment path may call it directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, write_transaction
from store.orders.checkout import COMPLETED, PAID, SHIPPED, Order
from store.outbox.kinds import Priority, format_time
from store.outbox.notices import enqueue_notice

CARRIER_CODE = re.compile(r"^[a-z0-9]{2,32}$")
TRACKING_NO = re.compile(r"^[A-Za-z0-9-]{6,32}$")
CARRIERS = {
    "shunfeng": "顺丰速运", "shunfengkuaiyun": "顺丰快运", "fengwang": "丰网速运", "yuantong": "圆通速递",
    "zhongtong": "中通快递", "yunda": "韵达快递", "shentong": "申通快递", "jd": "京东物流", "ems": "EMS",
    "youzhengguonei": "邮政快递包裹", "jtexpress": "极兔速递", "debangkuaidi": "德邦快递",
    "huitongkuaidi": "百世快递", "jinguangsudikuaijian": "京广速递",
}  # fmt: skip
SUB_PENDING, SUB_DONE, SUB_FAILED = "pending", "subscribed", "failed"


class Shipment(BaseModel):
    """One parcel of one order and what the tracking provider last told us about it. A reshipment after an
    exchange (store.after_sales.reshipments) is keyed by its case number and names the exchanged order."""

    order_no = peewee.CharField(max_length=32, unique=True)  # the order's number, or a reshipment's case number
    source_order_no = peewee.CharField(max_length=32, null=True)  # a reshipment's: the order it replaces goods of
    openid = peewee.CharField(max_length=64, index=True)
    carrier = peewee.CharField(max_length=32)  # Kuaidi100 company code: yuantong, shunfeng…
    tracking_no = peewee.CharField(max_length=32)
    shipped_at = ShanghaiDateTimeField()
    # subscription with the provider (the `subscribe_parcels` job)
    sub_status = peewee.CharField(max_length=16, default=SUB_PENDING)
    sub_attempts = peewee.IntegerField(default=0)
    sub_due_at = ShanghaiDateTimeField(null=True)
    sub_error = peewee.CharField(max_length=200, null=True)
    subscribed_at = ShanghaiDateTimeField(null=True)
    # the newest trace (store.logistics.tracking): kept only when its newest line is newer than what we had
    state = peewee.CharField(max_length=8, null=True)  # basic state: 1 揽收, 0 在途, 5 派件, 3 签收…
    state_code = peewee.CharField(max_length=8, null=True)  # the newest line's own code (103, 1002, 301…)
    collected = peewee.BooleanField(default=False)  # some line says a courier has the parcel
    last_event_at = ShanghaiDateTimeField(null=True)  # the newest line's ftime
    last_context = peewee.CharField(max_length=255, default="")
    events = peewee.IntegerField(default=0)
    trace = peewee.TextField(default="[]")  # JSON list of lines, newest first
    monitor = peewee.CharField(max_length=16, default="polling")  # polling | shutdown | abort
    monitor_message = peewee.CharField(max_length=64, default="")
    last_push_at = ShanghaiDateTimeField(null=True)
    polled_at = ShanghaiDateTimeField(null=True)
    poll_error = peewee.CharField(max_length=200, null=True)
    # exception alerts raised (store.logistics.parcel_alerts): each is a conditional UPDATE of its column, so once
    alerted_not_collected_at = ShanghaiDateTimeField(null=True)
    alerted_stall_for = ShanghaiDateTimeField(null=True)  # the newest line's time the stall alert was about

    class Meta:
        indexes = (
            (("carrier", "tracking_no"), False),
            (("sub_status", "sub_due_at"), False),
            (("openid", "shipped_at"), False),
        )

    @property
    def carrier_name(self) -> str:
        return carrier_name(self.carrier)

    @property
    def final(self) -> bool:
        """Nothing more will happen to it: signed for, returned to sender, or monitoring ended."""
        return self.state in ("3", "4") or self.monitor != "polling"


# ---- errors -----------------------------------------------------------------------------------------------------


class ShippingError(ValueError):
    """The order cannot be shipped as asked; the message says why (for the operator)."""


class OrderNotFound(ShippingError):
    pass


class NotShippable(ShippingError):
    pass


class AlreadyShipped(ShippingError):
    pass


class InvalidParcel(ShippingError):
    pass


class ShipmentRowsInvalid(ShippingError):
    """A bulk file with problems: `problems` lists each one with its line; nothing was shipped."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s); nothing was shipped")
        self.problems = problems


@dataclass(frozen=True)
class Shipped:
    shipment: Shipment
    created: bool  # False: the same parcel was recorded before, nothing changed


@dataclass(frozen=True)
class ShipRow:
    line: int
    order_no: str
    carrier: str
    tracking_no: str


# ---- shipping -------------------------------------------------------------------------------------------------


def carrier_name(code: str) -> str:
    return CARRIERS.get(code, code)


def check_parcel(carrier: str, tracking_no: str) -> tuple[str, str]:
    """The carrier code (lower case) and number, or `InvalidParcel` saying which is malformed."""
    carrier, tracking_no = carrier.strip().lower(), tracking_no.strip()
    if not CARRIER_CODE.match(carrier):
        raise InvalidParcel(f"carrier must be a Kuaidi100 company code such as yuantong, got {carrier!r}")
    if not TRACKING_NO.match(tracking_no):
        raise InvalidParcel(f"tracking number must be 6-32 letters, digits or '-', got {tracking_no!r}")
    return carrier, tracking_no


def _check_order(order: Order | None, order_no: str, carrier: str, tracking_no: str) -> Shipment | None:
    """None when the order may be shipped now; the existing shipment when this very parcel was recorded."""
    if order is None:
        raise OrderNotFound(f"no order {order_no}")
    existing = Shipment.get_or_none(Shipment.order_no == order_no)
    if existing is not None:
        if (existing.carrier, existing.tracking_no) == (carrier, tracking_no):
            return existing
        raise AlreadyShipped(f"order {order_no} was shipped as {existing.carrier} {existing.tracking_no}")
    if not order.needs_shipping:
        raise NotShippable(f"order {order_no} has only virtual goods: it completes without logistics")
    if order.status != PAID:
        raise NotShippable(f"order {order_no} is {order.status}: only paid orders can be shipped")
    return None


def ship_order(order_no: str, carrier: str, tracking_no: str, now: datetime) -> Shipped:
    """Ship a paid order (see the module docstring)."""
    carrier, tracking_no = check_parcel(carrier, tracking_no)
    try:
        with write_transaction():
            order = Order.get_or_none(Order.order_no == order_no)
            existing = _check_order(order, order_no, carrier, tracking_no)
            if existing is not None:
                return Shipped(existing, False)
            assert order is not None
            return Shipped(_ship(order, carrier, tracking_no, now), True)
    except (peewee.IntegrityError, _Raced):  # shipped concurrently: the other call's parcel stands
        existing = Shipment.get_or_none(Shipment.order_no == order_no)
        if existing is None:
            raise NotShippable(f"order {order_no} is no longer paid: it changed while shipping") from None
        if (existing.carrier, existing.tracking_no) != (carrier, tracking_no):
            raise AlreadyShipped(f"order {order_no} was shipped as {existing.carrier} {existing.tracking_no}") from None
        return Shipped(existing, False)


class _Raced(Exception):
    """The order left `paid` between the check and the update (another ship, a refund): roll back, re-read."""


def _ship(order: Order, carrier: str, tracking_no: str, now: datetime) -> Shipment:
    moved = (
        Order.update(status=SHIPPED, shipped_at=now)
        .where(Order.order_no == order.order_no, Order.status == PAID)
        .execute()
    )
    if not moved:
        raise _Raced()
    shipment = Shipment.create(
        order_no=order.order_no, openid=order.openid, carrier=carrier, tracking_no=tracking_no,
        shipped_at=now, sub_due_at=now,
    )  # fmt: skip
    enqueue_notice(
        order.openid, "shipped",
        {"order_no": order.order_no, "carrier": carrier_name(carrier)[:20], "tracking_no": tracking_no,
         "shipped_at": format_time(now)},
        Priority.TRANSACTIONAL, now, dedup_key=f"shipped:{order.order_no}",
    )  # fmt: skip
    return shipment


def ship_many(rows: Sequence[ShipRow], now: datetime) -> list[Shipped]:
    """Check every row, then ship them all in one transaction (see the module docstring)."""
    problems: list[str] = []
    checked: list[tuple[ShipRow, str, str]] = []
    seen: dict[str, int] = {}
    for row in rows:
        try:
            carrier, number = check_parcel(row.carrier, row.tracking_no)
        except InvalidParcel as exc:
            problems.append(f"line {row.line}: {exc}")
            continue
        if row.order_no in seen:
            problems.append(f"line {row.line}: order {row.order_no} is also on line {seen[row.order_no]}")
            continue
        seen[row.order_no] = row.line
        checked.append((row, carrier, number))
    orders = {o.order_no: o for o in Order.select().where(Order.order_no.in_([r.order_no for r, _, _ in checked]))}
    for row, carrier, number in checked:
        try:
            _check_order(orders.get(row.order_no), row.order_no, carrier, number)
        except ShippingError as exc:
            problems.append(f"line {row.line}: {exc}")
    if not rows:
        problems.append("no rows to ship")
    if problems:
        raise ShipmentRowsInvalid(problems)
    results: list[Shipped] = []
    current = checked[0][0]
    try:
        with write_transaction():
            for row, carrier, number in checked:
                current = row
                order = Order.get(Order.order_no == row.order_no)
                existing = _check_order(order, row.order_no, carrier, number)
                shipped = Shipped(existing, False) if existing else Shipped(_ship(order, carrier, number, now), True)
                results.append(shipped)
    except (_Raced, ShippingError, peewee.IntegrityError) as exc:
        why = str(exc) or "the order changed while shipping"
        raise ShipmentRowsInvalid([f"line {current.line}: {why}"]) from None
    return results


def complete_virtual(order_no: str, now: datetime) -> bool:
    """A paid order with nothing to ship is complete: once (False when it was not such an order)."""
    with write_transaction():
        return bool(
            Order.update(status=COMPLETED, completed_at=now)
            .where(Order.order_no == order_no, Order.status == PAID, Order.needs_shipping == False)  # noqa: E712
            .execute()
        )


def virtual_orders_to_complete(limit: int = 500) -> list[str]:
    query = (
        Order.select(Order.order_no)
        .where(Order.status == PAID, Order.needs_shipping == False)  # noqa: E712
        .order_by(Order.paid_at)
        .limit(limit)
    )
    return [row.order_no for row in query]


def complete_signed(order_no: str, now: datetime) -> None:
    """签收: the order is complete. Only a shipped order changes status; one in a refund keeps it, but its
    `completed_at` is set so it settles back to completed."""
    Order.update(completed_at=now).where(Order.order_no == order_no, Order.completed_at.is_null()).execute()
    Order.update(status=COMPLETED).where(Order.order_no == order_no, Order.status == SHIPPED).execute()


# ---- reading -----------------------------------------------------------------------------------------------------


def shipment_of(order_no: str) -> Shipment | None:
    return Shipment.get_or_none(Shipment.order_no == order_no)


def receiver_phone(shipment: Shipment) -> str:
    """The receiver's phone, which 顺丰 (subscribe) and 中通 (query) require; read from the order, never copied,
    so forgetting a follower (store.members.privacy) leaves no other copy behind."""
    order_no = shipment.source_order_no or shipment.order_no
    phone = Order.select(Order.ship_phone).where(Order.order_no == order_no).scalar()
    return str(phone or "")


def parcels_of(openid: str, limit: int = 10) -> list[Shipment]:
    """The follower's parcels, most recently shipped first."""
    query = Shipment.select().where(Shipment.openid == openid)
    return list(query.order_by(Shipment.shipped_at.desc(), Shipment.id.desc()).limit(limit))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def shipment_dict(shipment: Shipment, with_trace: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "order_no": shipment.order_no, "source_order_no": shipment.source_order_no, "openid": shipment.openid,
        "carrier": shipment.carrier,
        "carrier_name": shipment.carrier_name, "tracking_no": shipment.tracking_no,
        "shipped_at": _iso(shipment.shipped_at), "subscription": shipment.sub_status,
        "subscription_error": shipment.sub_error, "state": shipment.state, "state_code": shipment.state_code,
        "last_event_at": _iso(shipment.last_event_at), "last_context": shipment.last_context,
        "monitor": shipment.monitor, "monitor_message": shipment.monitor_message,
    }  # fmt: skip
    if with_trace:
        out["trace"] = json.loads(shipment.trace)
    return out
