"""Paid orders to ship, for the shipping, tracking and after-sales tests (on top of tests.order_support's shop)."""

from __future__ import annotations

import json
from datetime import datetime

from store.logistics import Shipment
from store.orders import CartLine, Order, create_order
from store.outbox import Notice
from store.payments import mark_paid
from tests.order_support import HOME, RULES, START, Shop

_paid = 0


def paid_order(shop: Shop, openid: str, *, virtual: bool = False, now: datetime = START, quantity: int = 1) -> Order:
    """A paid order of one dress (or, `virtual`, one gift card) for `openid`."""
    global _paid
    _paid += 1
    sku = shop.card if virtual else shop.dress
    order = create_order(openid, [CartLine(sku, quantity)], None if virtual else HOME, [], 0, now, rules=RULES)
    mark_paid(order.order_no, f"42000{_paid:010d}", order.payable_fen, now, rules=RULES.members)
    return Order.get(Order.order_no == order.order_no)


def notices(openid: str, kind: str | None = None) -> list[Notice]:
    query = Notice.select().where(Notice.openid == openid)
    if kind is not None:
        query = query.where(Notice.kind == kind)
    return list(query.order_by(Notice.id))


def fields(notice: Notice) -> dict[str, str]:
    return json.loads(notice.fields)


def shipment(order_no: str) -> Shipment:
    return Shipment.get(Shipment.order_no == order_no)
