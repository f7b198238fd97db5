"""Shipping in the store: a paid order ships once with its notice in the same transaction, a bulk file ships whole
or not at all, virtual orders complete without logistics."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.process.config import Config
from store.core.db import open_database
from store.logistics.shipments import (
    AlreadyShipped,
    InvalidParcel,
    NotShippable,
    OrderNotFound,
    ShipmentRowsInvalid,
    ShipRow,
    complete_virtual,
    ship_many,
    ship_order,
    virtual_orders_to_complete,
)
from store.orders.checkout import COMPLETED, PAID, SHIPPED, CartLine, Order, create_order
from tests.logistics_support import fields, notices, paid_order, shipment
from tests.order_support import BUYER, HOME, OTHER, RULES, START, Shop, make_shop, race

LATER = START + timedelta(hours=2)


@pytest.fixture
def shop(migrated: Config) -> Shop:
    open_database(migrated.database.url, migrated.var_dir)
    return make_shop(dress_stock=50)


def test_a_paid_order_ships_once_and_the_buyer_is_told(shop: Shop) -> None:
    order = paid_order(shop, BUYER)
    shipped = ship_order(order.order_no, " YuanTong ", "YT1234567890", LATER)
    assert shipped.created and shipped.shipment.carrier == "yuantong"
    row = Order.get(Order.order_no == order.order_no)
    assert (row.status, row.shipped_at) == (SHIPPED, LATER)
    assert shipment(order.order_no).sub_status == "pending", "subscribed later by the job, never inline"
    [notice] = notices(BUYER, "shipped")
    assert fields(notice) == {"order_no": order.order_no, "carrier": "圆通速递", "tracking_no": "YT1234567890",
                              "shipped_at": "2026-11-24 12:00"}  # fmt: skip
    again = ship_order(order.order_no, "yuantong", "YT1234567890", LATER + timedelta(minutes=5))
    assert not again.created and len(notices(BUYER, "shipped")) == 1, "the same parcel again changes nothing"
    with pytest.raises(AlreadyShipped):
        ship_order(order.order_no, "zhongtong", "ZT0000000001", LATER)


def test_what_cannot_be_shipped(shop: Shop) -> None:
    unpaid = create_order(BUYER, [CartLine(shop.dress, 1)], HOME, [], 0, START, rules=RULES)
    with pytest.raises(NotShippable, match="unpaid"):
        ship_order(unpaid.order_no, "yuantong", "YT1234567890", LATER)
    virtual = paid_order(shop, BUYER, virtual=True)
    with pytest.raises(NotShippable, match="virtual"):
        ship_order(virtual.order_no, "yuantong", "YT1234567890", LATER)
    with pytest.raises(OrderNotFound):
        ship_order("nope", "yuantong", "YT1234567890", LATER)
    paid = paid_order(shop, BUYER)
    for carrier, number in (("圆通", "YT1234567890"), ("yuantong", "12345"), ("yuantong", "YT12345678#")):
        with pytest.raises(InvalidParcel):
            ship_order(paid.order_no, carrier, number, LATER)
    assert Order.get(Order.order_no == paid.order_no).status == PAID
    assert notices(BUYER, "shipped") == []


def test_concurrent_shipping_of_one_order_ships_it_once(shop: Shop) -> None:
    order = paid_order(shop, BUYER)
    results = race(8, 8, lambda i: ship_order(order.order_no, "yuantong", "YT1234567890", LATER))
    assert all(not isinstance(r, BaseException) for r in results), results
    assert sum(r.created for r in results) == 1  # type: ignore[union-attr]
    assert len(notices(BUYER, "shipped")) == 1


def test_a_bulk_file_ships_whole_or_not_at_all(shop: Shop) -> None:
    first, second = paid_order(shop, BUYER), paid_order(shop, OTHER)
    virtual = paid_order(shop, BUYER, virtual=True)
    bad = [
        ShipRow(2, first.order_no, "yuantong", "YT0000000001"),
        ShipRow(3, second.order_no, "yuantong", "bad"),
        ShipRow(4, virtual.order_no, "yuantong", "YT0000000003"),
        ShipRow(5, "missing", "yuantong", "YT0000000004"),
        ShipRow(6, first.order_no, "yuantong", "YT0000000005"),
    ]
    with pytest.raises(ShipmentRowsInvalid) as refused:
        ship_many(bad, LATER)
    assert [p.split(":")[0] for p in refused.value.problems] == ["line 3", "line 6", "line 4", "line 5"]
    assert Order.select().where(Order.status == SHIPPED).count() == 0 and notices(BUYER, "shipped") == []
    good = [ShipRow(2, first.order_no, "yuantong", "YT0000000001"), ShipRow(3, second.order_no, "zhongtong",
                                                                            "ZT0000000002")]  # fmt: skip
    assert [s.created for s in ship_many(good, LATER)] == [True, True]
    assert [s.created for s in ship_many(good, LATER)] == [False, False], "a file run twice ships once"
    assert len(notices(BUYER, "shipped")) == len(notices(OTHER, "shipped")) == 1


def test_virtual_orders_complete_without_logistics(shop: Shop) -> None:
    virtual, physical = paid_order(shop, BUYER, virtual=True), paid_order(shop, BUYER)
    assert virtual_orders_to_complete() == [virtual.order_no]
    assert complete_virtual(virtual.order_no, LATER) and not complete_virtual(virtual.order_no, LATER)
    assert not complete_virtual(physical.order_no, LATER)
    row = Order.get(Order.order_no == virtual.order_no)
    assert (row.status, row.completed_at) == (COMPLETED, LATER)
    assert virtual_orders_to_complete() == []
