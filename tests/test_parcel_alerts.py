"""Parcels in trouble, on an injected clock: not collected 72 hours after shipping, and stalled even after the
polling fallback asked the provider — each alerts operators and apologises to the buyer once (with a coupon when
configured), however often the sweeps run. Virtual orders complete through their job."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.process.config import Config
from scheduler.logistics_jobs import complete_virtual_orders, poll_parcels, subscribe_parcels, sweep_parcel_exceptions
from store.orders.checkout import COMPLETED, Order
from store.promotions.coupons import Coupon, create_template
from tests.logistics_support import OPERATOR, ServiceWorld, fields, notices, paid_order, service_world, shipment
from tests.order_support import BUYER, OTHER

NUMBER = "YT1234567890"


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[ServiceWorld]:
    async with service_world(migrated, apology_coupon="SORRY10") as w:
        create_template("SORRY10", "fixed", 1000, w.clock.now(), title="10元无门槛券", valid_days=30)
        yield w


def subjects() -> list[str]:
    return [fields(n)["subject"] for n in notices(OPERATOR, "ops_alert")]


async def test_not_collected_within_72_hours_alerts_once(world: ServiceWorld) -> None:
    waiting, moving = paid_order(world.shop, BUYER), paid_order(world.shop, OTHER)
    world.tracker.set_scenario("yuantong", NUMBER, "uncollected")
    await world.ship(waiting.order_no, number=NUMBER)
    await world.ship(moving.order_no, number="YT0000000002")
    world.clock.advance(hours=2)
    await world.tracker.advance(NUMBER)  # 101 商家已下单: a label, no courier
    await world.tracker.advance("YT0000000002")  # 103 已揽收
    assert not shipment(waiting.order_no).collected and shipment(moving.order_no).collected

    world.clock.advance(hours=69, minutes=59)  # 71:59 after shipping
    assert await sweep_parcel_exceptions(world.ctx()) == 0
    world.clock.advance(minutes=1)
    assert await sweep_parcel_exceptions(world.ctx()) == 1
    assert await sweep_parcel_exceptions(world.ctx()) == 0, "a second sweep alerts nobody again"
    assert subjects() == ["超时未揽收"]
    [sorry] = notices(BUYER, "parcel_issue")
    assert fields(sorry) == {"order_no": waiting.order_no, "issue": "发货后迟迟未被揽收",
                             "raised_at": "2026-11-27 10:00"}  # fmt: skip
    [coupon] = notices(BUYER, "apology_coupon")
    assert fields(coupon) == {"coupon": "10元无门槛券"}
    assert Coupon.select().where(Coupon.openid == BUYER, Coupon.source == f"apology:{waiting.order_no}").count() == 1
    assert notices(OTHER, "parcel_issue") == [], "the collected parcel is fine"

    world.open_window(BUYER)
    await world.deliver_notices()
    assert any("发货后迟迟未被揽收" in text for text in world.delivered_texts(BUYER))
    assert any("10元无门槛券" in text for text in world.delivered_texts(BUYER))


async def test_a_stalled_parcel_is_polled_then_flagged_once_per_stall(world: ServiceWorld) -> None:
    order = paid_order(world.shop, BUYER)
    await world.ship(order.order_no)
    await world.tracker.advance(NUMBER)
    world.clock.advance(hours=3)
    await world.tracker.advance(NUMBER)
    went_quiet = shipment(order.order_no).last_event_at
    assert went_quiet == world.clock.now()

    world.clock.advance(hours=23)
    assert await poll_parcels(world.ctx()) == 0 and shipment(order.order_no).polled_at is None, "not quiet yet"
    world.clock.advance(hours=1)
    assert await sweep_parcel_exceptions(world.ctx()) == 0, "polling goes first"
    assert await poll_parcels(world.ctx()) == 0, "the provider has nothing newer"
    polled = shipment(order.order_no)
    assert (polled.polled_at, polled.poll_error) == (world.clock.now(), None)
    assert await poll_parcels(world.ctx()) == 0 and shipment(order.order_no).polled_at == polled.polled_at
    assert await sweep_parcel_exceptions(world.ctx()) == 1
    assert await sweep_parcel_exceptions(world.ctx()) == 0
    assert subjects() == ["物流长时间未更新"]
    assert [fields(n)["issue"] for n in notices(BUYER, "parcel_issue")] == ["物流信息长时间未更新"]

    world.clock.advance(hours=2)
    parcel = world.tracker.parcel(NUMBER)
    parcel.subscription = None  # pushes lost from here: only the polling fallback can see the parcel move
    parcel.events.append(type(parcel.events[0])("1002", "【武汉市】 快件到达【武汉转运中心】", world.clock.now(), None))
    moved_at = world.clock.now()
    world.clock.advance(hours=22)
    assert await poll_parcels(world.ctx()) == 1, "the poll finds the newer line and applies it like a push"
    moved = shipment(order.order_no)
    assert (moved.last_event_at, moved.events) == (moved_at, 3)
    assert await sweep_parcel_exceptions(world.ctx()) == 0, "it moved 22 hours ago: no stall"
    world.clock.advance(hours=24)
    assert await poll_parcels(world.ctx()) == 0
    assert await sweep_parcel_exceptions(world.ctx()) == 1, "stalled again later: a new stall, a new alert"
    assert subjects() == ["物流长时间未更新", "物流长时间未更新"]


async def test_subscription_failures_back_off_or_alert(world: ServiceWorld) -> None:
    first, second = paid_order(world.shop, BUYER), paid_order(world.shop, BUYER)
    status, _ = await world.admin("POST", f"/admin/api/orders/{first.order_no}/ship",
                                  json={"carrier": "yuantong", "tracking_no": NUMBER})  # fmt: skip
    assert status == 201
    world.tracker.faults.fail_next("poll", code="500", message="服务器错误")
    assert await subscribe_parcels(world.ctx()) == 0
    parcel = shipment(first.order_no)
    assert (parcel.sub_status, parcel.sub_attempts) == ("pending", 1) and "500" in (parcel.sub_error or "")
    assert await subscribe_parcels(world.ctx()) == 0, "backing off"
    world.clock.advance(minutes=5)
    assert await subscribe_parcels(world.ctx()) == 1
    assert shipment(first.order_no).sub_status == "subscribed"

    status, _ = await world.admin("POST", f"/admin/api/orders/{second.order_no}/ship",
                                  json={"carrier": "ems", "tracking_no": "EM123456789CN"})  # fmt: skip
    world.tracker.refused_companies = frozenset({"ems"})
    assert await subscribe_parcels(world.ctx()) == 0
    assert shipment(second.order_no).sub_status == "failed"
    assert subjects() == ["物流订阅失败"]


async def test_virtual_orders_complete_through_their_job(world: ServiceWorld) -> None:
    virtual = paid_order(world.shop, BUYER, virtual=True)
    assert await complete_virtual_orders(world.ctx()) == 1
    assert await complete_virtual_orders(world.ctx()) == 0
    assert Order.get(Order.order_no == virtual.order_no).status == COMPLETED
