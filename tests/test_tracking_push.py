"""Ship through the admin API → the subscription job subscribes the parcel with the sandbox tracking service → its
pushes walk every state to the shop's /logistics/notify → the buyer gets one notice per state change (stored in
the outbox and delivered through the sandbox MP API), with duplicate and out-of-order pushes changing nothing;
bad signs are refused; 疑难 and 退签 alert operators; monitoring that gives up alerts them too."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from bot.process.config import Config
from store.logistics.shipments import Shipment
from store.logistics.tracking import TraceInvalid, parse_push
from store.orders.checkout import COMPLETED, SHIPPED, Order
from tests.logistics_support import OPERATOR, ServiceWorld, fields, notices, paid_order, service_world, shipment
from tests.order_support import BUYER

NUMBER = "YT1234567890"


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[ServiceWorld]:
    async with service_world(migrated) as w:
        yield w


async def walk(world: ServiceWorld, steps: int | None = None, number: str = NUMBER) -> int:
    """Advance the parcel (every push acknowledged), six hours apart."""
    done = 0
    while steps is None or done < steps:
        world.clock.advance(hours=6)
        delivery = await world.tracker.advance(number)
        if delivery is None:
            break
        assert delivery.acknowledged, delivery.attempts
        done += 1
    return done


def states(openid: str = BUYER) -> list[str]:
    return [fields(n)["state"] for n in notices(openid, "tracking")]


def pushes(outcome: str) -> float:
    return REGISTRY.get_sample_value("wxshop_tracking_pushes_total", {"outcome": outcome}) or 0.0


async def test_every_state_reaches_the_buyer_once(world: ServiceWorld) -> None:
    order = paid_order(world.shop, BUYER, now=world.clock.now())
    world.clock.advance(hours=1)
    body = await world.ship(order.order_no)
    assert (body["carrier_name"], body["subscription"]) == ("圆通速递", "pending")
    parcel = world.tracker.parcel(NUMBER)
    assert parcel.subscription is not None and parcel.subscription.callbackurl.endswith("/logistics/notify")
    assert shipment(order.order_no).sub_status == "subscribed"
    assert Order.get(Order.order_no == order.order_no).status == SHIPPED

    duplicates_before, stale_before = pushes("duplicate"), pushes("stale")
    assert await walk(world, 2) == 2
    assert states() == ["已揽收", "运输中（深圳市）"]
    twice = await world.tracker.push_again(NUMBER, copies=2)
    assert all(a.ok for a in twice), "duplicates are acknowledged"
    [late] = await world.tracker.push_again(NUMBER, index=0)
    assert late.ok, "an out-of-order re-push is acknowledged"
    assert pushes("duplicate") - duplicates_before == 2 and pushes("stale") - stale_before == 1
    assert shipment(order.order_no).state == "0", "the older 揽收 push did not win over 在途"
    assert states() == ["已揽收", "运输中（深圳市）"], "and nobody was told twice"

    assert await walk(world) == 4
    assert states() == ["已揽收", "运输中（深圳市）", "派送中（北京市）", "已签收"], "在途 → 在途 stays quiet"
    done = shipment(order.order_no)
    assert (done.state, done.state_code, done.monitor, done.events) == ("3", "301", "shutdown", 6)
    assert Order.get(Order.order_no == order.order_no).status == COMPLETED, "签收 completes the order"
    assert [n.kind for n in notices(BUYER)] == ["paid", "shipped", "tracking", "tracking", "tracking", "tracking"]

    world.open_window(BUYER)
    await world.deliver_notices()
    texts = world.delivered_texts(BUYER)
    assert len(texts) == 6 and sum(f"已发货：圆通速递 {NUMBER}" in t for t in texts) == 1, texts
    updates = [t.split("物流更新：")[1].split("（运单号")[0] for t in texts if "物流更新" in t]
    assert sorted(updates) == sorted(states()), "every state delivered (customer-service sends run concurrently)"
    status, tracking = await world.admin("GET", f"/admin/api/orders/{order.order_no}/tracking")
    assert status == 200 and [line["code"] for line in tracking["trace"]] == ["301", "5", "1001", "1002", "1002",
                                                                             "103"]  # fmt: skip


async def test_a_bad_sign_is_refused_and_changes_nothing(world: ServiceWorld) -> None:
    order = paid_order(world.shop, BUYER, now=world.clock.now())
    await world.ship(order.order_no)
    await walk(world, 1)
    param = world.tracker.push_param(world.tracker.parcel(NUMBER))
    salt = world.pay.config.logistics.salt
    before = pushes("bad_sign")
    for sign in ("0" * 32, hashlib.md5((param + "other-salt").encode()).hexdigest(), ""):
        status, answer = await world.notify({"param": param, "sign": sign})
        assert (status, answer["result"], answer["returnCode"]) == (200, False, "500")
    status, answer = await world.notify({"param": param})
    assert (status, answer["result"]) == (200, False)
    assert pushes("bad_sign") - before == 4
    status, answer = await world.notify({"param": "{not json", "sign": hashlib.md5(b"{not json" + salt.encode())
                                         .hexdigest()})  # fmt: skip
    assert (status, answer["result"]) == (200, False), "well signed but not a trace: refused, never a 500"
    assert len(notices(BUYER, "tracking")) == 1

    world.clock.advance(hours=6)
    await world.tracker.advance(NUMBER)  # the emulator's own push: signed in upper case
    lower = world.tracker.push_param(world.tracker.parcel(NUMBER))
    status, answer = await world.notify({"param": lower, "sign": hashlib.md5((lower + salt).encode()).hexdigest()})
    assert answer == {"result": True, "returnCode": "200", "message": "成功"}, "lower-case hex is accepted too"
    assert len(notices(BUYER, "tracking")) == 2


async def test_difficult_and_returned_parcels_alert_operators(world: ServiceWorld) -> None:
    hard, back = paid_order(world.shop, BUYER), paid_order(world.shop, BUYER)
    world.tracker.set_scenario("zhongtong", "ZT0000000001", "difficult")
    world.tracker.set_scenario("yunda", "YD0000000002", "returned")
    await world.ship(hard.order_no, "zhongtong", "ZT0000000001")
    await world.ship(back.order_no, "yunda", "YD0000000002")
    await walk(world, number="ZT0000000001")
    await walk(world, number="YD0000000002")
    issues = notices(BUYER, "parcel_issue")
    assert [(fields(n)["order_no"], fields(n)["issue"]) for n in issues] == [(hard.order_no, "派送遇到问题")]
    alerts = [(fields(n)["subject"], fields(n)["ref"]) for n in notices(OPERATOR, "ops_alert")]
    assert alerts == [("疑难件", hard.order_no), ("包裹已拒签", back.order_no), ("包裹退回中", back.order_no),
                      ("包裹已退签", back.order_no)]  # fmt: skip
    assert Order.get(Order.order_no == hard.order_no).status == COMPLETED
    assert Order.get(Order.order_no == back.order_no).status == SHIPPED, "returned, not completed"
    assert "派送遇到问题" in states() and states()[-1] == "已退签"


async def test_monitoring_that_gives_up_alerts_operators(world: ServiceWorld) -> None:
    order = paid_order(world.shop, BUYER)
    world.tracker.set_scenario("yuantong", NUMBER, "no_record")
    await world.ship(order.order_no)
    assert await walk(world) == 1
    parcel = shipment(order.order_no)
    assert (parcel.monitor, parcel.monitor_message, parcel.state) == ("abort", "3天查询无记录", None)
    assert [fields(n)["subject"] for n in notices(OPERATOR, "ops_alert")] == ["物流停止跟踪"]
    await world.tracker.push_again(NUMBER, copies=2)
    assert len(notices(OPERATOR, "ops_alert")) == 1


def test_trace_parsing_keeps_the_newest_first() -> None:
    body = {"status": "polling", "message": "", "lastResult": {"com": "ems", "nu": "EM123456789CN", "state": "5",
            "data": [{"context": "b", "ftime": "2026-11-24 10:00:00"}, {"context": "c", "ftime": "2026-11-25 09:00:00"},
                     {"context": "a", "ftime": "2026-11-23 08:00:00"}]}}  # fmt: skip
    trace = parse_push(json.dumps(body))
    assert [line.context for line in trace.lines] == ["c", "b", "a"]
    assert (trace.lines[0].state, trace.lines[1].state) == ("5", None), "no resultv2: the trace's state is the newest's"
    bad_time = '{"lastResult": {"com": "ems", "nu": "1", "data": [{"ftime": "x"}]}}'
    for bad in ("[]", '{"lastResult": {"com": "ems"}}', bad_time):
        with pytest.raises(TraceInvalid):
            parse_push(bad)


async def test_shipping_through_the_admin_api_refuses_what_cannot_ship(world: ServiceWorld) -> None:
    order = paid_order(world.shop, BUYER)
    path = f"/admin/api/orders/{order.order_no}/ship"
    assert (await world.admin("POST", path, json={"carrier": "yuantong"}))[0] == 400
    assert (await world.admin("POST", path, json={"carrier": "yuantong", "tracking_no": "1"}))[0] == 400
    nope = await world.admin("POST", "/admin/api/orders/nope/ship", json={"carrier": "yuantong", "tracking_no": NUMBER})
    assert nope[0] == 404
    first = await world.admin("POST", path, json={"carrier": "yuantong", "tracking_no": NUMBER})
    again = await world.admin("POST", path, json={"carrier": "yuantong", "tracking_no": NUMBER})
    other = await world.admin("POST", path, json={"carrier": "yuantong", "tracking_no": "YT0000000000"})
    assert (first[0], again[0], other[0]) == (201, 200, 409)
    virtual = paid_order(world.shop, BUYER, virtual=True)
    status, body = await world.admin("POST", f"/admin/api/orders/{virtual.order_no}/ship",
                                     json={"carrier": "yuantong", "tracking_no": NUMBER})  # fmt: skip
    assert status == 409 and "virtual" in body["error"]
    assert Shipment.select().count() == 1 and len(notices(BUYER, "shipped")) == 1
    assert (await world.admin("GET", f"/admin/api/orders/{virtual.order_no}/tracking"))[0] == 404
    world.clock.advance(minutes=1)
    assert world.clock.now() - order.paid_at >= timedelta(minutes=1)
