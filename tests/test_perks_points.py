"""Points at checkout in the store: concurrent checkouts never spend more than the balance; refunds give the
points used back in proportion to the money refunded, and all of them once the order is fully refunded."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import peewee
import pytest

from bot.process.config import Config
from store.core.db import open_database
from store.members.accounts import Member, PointsEntry, points_balance
from store.orders.checkout import REFUNDED, NotEnoughPoints, Order
from store.orders.refunds import points_returned
from tests.order_support import BUYER, START, Shop, give_points, make_shop, race
from tests.pay_support import PayWorld, pay_world
from tests.test_orders import order
from tests.test_refunds import paid_order, refund_path


@pytest.fixture
def shop(migrated: Config) -> Shop:
    open_database(migrated.database.url, migrated.var_dir)
    return make_shop()


def test_concurrent_checkouts_never_overspend_points(shop: Shop) -> None:
    give_points(BUYER, 1000)
    results = race(8, 8, lambda i: order(shop, (shop.tee, 1), points=300))
    placed = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, NotEnoughPoints)]
    assert len(placed) == 3 and len(refused) == 5, results
    assert points_balance(BUYER) == 100
    spent = PointsEntry.select(peewee.fn.SUM(PointsEntry.delta)).where(
        PointsEntry.openid == BUYER, PointsEntry.reason == "spend"
    ).scalar()
    assert spent == -900
    assert Member.get(Member.openid == BUYER).points >= 0


def test_points_returned_add_up_to_the_points_used() -> None:
    assert points_returned(1000, 33799, 0, 16899) == 499
    assert points_returned(1000, 33799, 16899, 33799) == 501
    steps = [0, 1, 2, 3, 10000, 33798, 33799]
    assert sum(points_returned(7, 33799, a, b) for a, b in itertools.pairwise(steps)) == 7
    assert points_returned(0, 33799, 0, 33799) == 0
    assert points_returned(500, 1000, 0, 5000) == 500, "never more than were used"


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        w.sandbox.world.follow(BUYER)
        yield w


def returned_points(order_no: str) -> int:
    total = PointsEntry.select(peewee.fn.COALESCE(peewee.fn.SUM(PointsEntry.delta), 0)).where(
        PointsEntry.order_no == order_no, PointsEntry.reason == "return"
    ).scalar()
    return int(total)


async def test_a_partial_refund_returns_points_in_proportion(world: PayWorld) -> None:
    give_points(BUYER, 1000, START)
    placed = await paid_order(world, points=1000)
    assert placed.points_used == 1000
    half = placed.payable_fen // 2
    status, first = await world.admin("POST", refund_path(placed), json={"amount_fen": half, "reason": "部分退"})
    assert status == 201 and first["status"] == "succeeded", first
    assert returned_points(placed.order_no) == 1000 * half // placed.payable_fen

    status, rest = await world.admin("POST", refund_path(placed), json={"reason": "全部退"})
    assert status == 201 and rest["status"] == "succeeded", rest
    assert Order.get_by_id(placed.id).status == REFUNDED
    assert returned_points(placed.order_no) == 1000
    assert points_balance(BUYER) == 1000, "every point used is back, every point earned clawed back"
