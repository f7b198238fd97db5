"""The 拼团 demo in the chat preview: a leader opens and pays, then two simulated friends follow through the
share code, join and pay over real HTTP, and the group is full with every member told."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from bot.process.config import Config
from bot.sandbox.group_friends import pay_as
from store.core.db import open_database
from store.group_buy.models import FULL, Group
from store.group_buy.operations import OfferInput, set_offer
from store.orders.checkout import PAID, Order
from store.outbox.notices import Notice
from tests.order_support import START, make_shop
from tests.preview_support import Demo, demo_running, with_default_menu


@pytest.fixture
async def demo(migrated: Config) -> AsyncIterator[Demo]:
    async with demo_running(with_default_menu(migrated)) as running:
        open_database(running.config.database.url, running.config.var_dir)
        shop = make_shop()
        set_offer(OfferInput(shop.dress, size=3, window_hours=48, price_fen=9900), START)
        yield running


async def test_simulated_friends_fill_the_leaders_group(demo: Demo) -> None:
    leader = await demo.new_follower()
    opened = await demo.send(leader, "text", text="开团 P1-M 张三 13812345678 广东省深圳市南山区科技园路1号")
    shown = opened["delivery"]["shown"]
    group_no = re.search(r"G\d{18}", shown)[0]  # type: ignore[index]
    assert await pay_as(demo.session, demo.sandbox, demo.base, re.search(r"/pay/(\w+)", shown)[1], leader)  # type: ignore[index]

    status, body = await demo.call("POST", "group-friends", {"group_no": group_no, "count": 2})
    assert status == 200, body
    assert [f["paid"] for f in body["friends"]] == [True, True], body
    assert Group.get(Group.group_no == group_no).status == FULL
    assert [o.status for o in Order.select()] == [PAID, PAID, PAID]
    told = {n.openid for n in Notice.select().where(Notice.kind == "group_full")}
    assert told == {leader, *(f["openid"] for f in body["friends"])}
    status, refused = await demo.call("POST", "group-friends", {"group_no": group_no, "count": 9})
    assert status == 400, refused
