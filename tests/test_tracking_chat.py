"""查快递 / 物流到哪了 in chat over HTTP: no parcel (and orders still waiting to ship), one parcel (its latest trace
at once), several on their way (which order? then that one's trace), and the menu's 查物流."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.process.config import Config
from tests.logistics_support import ServiceWorld, paid_order, service_world
from tests.order_support import BUYER


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[ServiceWorld]:
    async with service_world(migrated) as w:
        w.pay.sandbox.world.follow(BUYER)
        yield w


async def walk(world: ServiceWorld, number: str, steps: int) -> None:
    for _ in range(steps):
        world.clock.advance(hours=6)
        assert await world.tracker.advance(number) is not None


async def test_no_parcel_is_a_clear_answer(world: ServiceWorld) -> None:
    follower = world.follower()
    nothing = await follower.send_text(BUYER, "查快递")
    assert nothing.shown == "您目前没有运输中的包裹。回复“我的订单”查看订单。"
    order = paid_order(world.shop, BUYER)
    waiting = await follower.send_text(BUYER, "我的快递到哪了")
    assert "正在备货" in waiting.shown and order.order_no[-6:] in waiting.shown


async def test_one_parcel_shows_its_latest_trace(world: ServiceWorld) -> None:
    follower = world.follower()
    order = paid_order(world.shop, BUYER)
    await world.ship(order.order_no)
    shipped = await follower.send_text(BUYER, "查快递")
    assert "圆通速递 YT1234567890" in shipped.shown and "等待快递公司揽收" in shipped.shown
    await walk(world, "YT1234567890", 4)
    reply = await follower.send_text(BUYER, "物流到哪了")
    lines = reply.shown.splitlines()
    assert lines[0] == f"订单尾号{order.order_no[-6:]}（法式碎花连衣裙）"
    assert lines[1:3] == ["圆通速递 YT1234567890", "当前状态：运输中"]
    assert "快件已到达【北京转运中心】" in lines[3] and lines[3].startswith("11-25 10:00")
    assert len(lines) == 7 and lines[-1] == "……共4条物流记录"
    menu = await follower.click(BUYER, "TRACKING")
    assert menu.shown == reply.shown


async def test_several_parcels_ask_which_order(world: ServiceWorld) -> None:
    follower = world.follower()
    done, first, second = (paid_order(world.shop, BUYER) for _ in range(3))
    await world.ship(done.order_no, "zhongtong", "ZT0000000001")
    await walk(world, "ZT0000000001", 6)
    signed = await follower.send_text(BUYER, "查快递")
    assert "当前状态：已签收" in signed.shown, "nothing on its way: the most recent parcel, delivered"
    await world.ship(first.order_no, "yuantong", "YT0000000001")
    await world.ship(second.order_no, "yunda", "YD0000000002")
    await walk(world, "YT0000000001", 1)
    await walk(world, "YD0000000002", 5)
    question = await follower.send_text(BUYER, "快递到哪了")
    assert question.shown.startswith("您有多个包裹在路上：")
    assert f"1. 法式碎花连衣裙（订单尾号{second.order_no[-6:]}）派送中" in question.shown, "newest shipment first"
    assert f"2. 法式碎花连衣裙（订单尾号{first.order_no[-6:]}）已揽收" in question.shown
    assert done.order_no[-6:] not in question.shown, "a delivered parcel is not asked about"
    confused = await follower.send_text(BUYER, "第9个")
    assert "回复序号（1-2）" in confused.shown
    answer = await follower.send_text(BUYER, "2")
    assert "韵达" not in answer.shown and "圆通速递 YT0000000001" in answer.shown and "当前状态：已揽收" in answer.shown
    by_tail = await follower.send_text(BUYER, "查快递")
    assert by_tail.shown.startswith("您有多个包裹在路上")
    assert "派送中" in (await follower.send_text(BUYER, second.order_no[-6:])).shown
