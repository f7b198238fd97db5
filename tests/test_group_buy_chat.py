"""拼团 through the real pipeline: signed WeChat XML over HTTP for 开团 / 参团 / 我的拼团, WeChat Pay's sandbox for
the payments, the outbox for the one notice each member gets, and the worker's sweep for an unfilled group."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from bot.process.config import Config
from bot.sandbox.follower import FollowerSimulator
from bot.wechat.gateway import LATE_TASKS
from scheduler.group_buy_jobs import close_groups
from store.catalog.csv_format import export_text
from store.core.db import write_transaction
from store.group_buy.models import FAILED, FULL, Group
from store.group_buy.operations import OfferInput, set_offer
from store.orders.addresses import remember_address
from store.orders.checkout import GROUPING, PAID, REFUNDED, Order
from store.outbox.notices import Notice
from tests.gateway_support import account_for
from tests.order_support import HOME, START
from tests.pay_support import PayWorld, pay_world

LEADER, FRIENDS = "o_gb_leader", ("o_gb_friend1", "o_gb_friend2")


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        set_offer(OfferInput(w.shop.dress, size=3, window_hours=48, price_fen=9900), START)
        for openid in (LEADER, *FRIENDS):
            w.sandbox.world.follow(openid)
        for openid in (LEADER, FRIENDS[0]):  # the second friend writes the address after 参团
            with write_transaction():
                remember_address(openid, HOME, START)
        yield w


def follower(w: PayWorld) -> FollowerSimulator:
    url = f"{w.shop_url}{w.config.server.wechat_path}"
    return FollowerSimulator(url, account_for(w.config, "plain"), w.session, w.clock, world=w.sandbox.world)


async def pay_from_reply(w: PayWorld, openid: str, shown: str) -> str:
    order_no = re.search(r"/pay/(\w+)", shown)[1]  # type: ignore[index]
    params = await w.pay_params(order_no, openid)
    assert (await w.confirm(params, openid))["err_msg"] == "get_brand_wcpay_request:ok"
    await w.sandbox.pay.deliver_due()
    return order_no


async def test_a_leader_and_two_friends_fill_a_group_in_chat(world: PayWorld) -> None:
    chat = follower(world)
    opened = await chat.send_text(LEADER, "开团 P1-M")
    assert "开团成功" in opened.shown and "¥99" in opened.shown and "¥¥" not in opened.shown, opened.shown
    group_no = re.search(r"G\d{18}", opened.shown)[0]  # type: ignore[index]
    early = await chat.send_text(FRIENDS[0], f"参团 {group_no}")
    assert "已经满员或结束" in early.shown, "no one joins before the leader has paid"
    leader_order = await pay_from_reply(world, LEADER, opened.shown)
    assert Order.get(Order.order_no == leader_order).status == GROUPING

    card = await chat.send_text(LEADER, "我的拼团")
    assert card.reply["MsgType"] == "news"
    item = card.reply["Articles"]["item"]
    assert item["Url"].endswith(f"/g/{group_no}") and "还差2人" in item["Description"]

    async with world.session.get(item["Url"]) as page:
        assert page.status == 200
        html = await page.text()
    assert f"参团 {group_no}" in html and "还差2人" in html and "¥99" in html and "¥¥" not in html

    scanned = await chat.send_event(FRIENDS[0], "SCAN", f"grp_{group_no}")
    assert f"回复“参团 {group_no}”" in scanned.shown and "还差2人" in scanned.shown, scanned.shown
    newcomer = await chat.follow("o_gb_newcomer", scene=f"grp_{group_no}")
    await asyncio.gather(*world.app[LATE_TASKS])  # the invitation follows the welcome as a customer-service message
    said = [newcomer.shown] + [
        d.payload["text"]["content"] for d in world.sandbox.world.delivered("o_gb_newcomer") if d.kind == "custom"
    ]
    assert any(f"回复“参团 {group_no}”" in text for text in said), said
    asked = await chat.send_text(FRIENDS[1], f"参团 {group_no}")
    assert "请在参团后面写上收货信息" in asked.shown, asked.shown
    for friend, address in zip(FRIENDS, ("", " 李四 13912345678 浙江省杭州市西湖区文三路1号"), strict=True):
        joined = await chat.send_text(friend, f"参团 {group_no}{address}")
        assert "参团成功" in joined.shown, joined.shown
        await pay_from_reply(world, friend, joined.shown)
    assert Group.get(Group.group_no == group_no).status == FULL
    assert {o.status for o in Order.select()} == {PAID}
    assert Order.get(Order.openid == FRIENDS[1]).ship_name == "李四"
    async with world.session.get(item["Url"]) as page:
        assert "拼团成功" in await page.text()
    notices = Notice.select().where(Notice.kind == "group_full")
    assert sorted(n.openid for n in notices) == sorted([LEADER, *FRIENDS])
    await world.deliver_notices()
    for openid in (LEADER, *FRIENDS):
        texts = [d.payload["text"]["content"] for d in world.sandbox.world.delivered(openid) if d.kind == "custom"]
        assert sum("拼团成功" in t for t in texts) == 1, texts


async def test_an_unfilled_group_is_refunded_by_the_worker_and_members_told(world: PayWorld) -> None:
    chat = follower(world)
    opened = await chat.send_text(LEADER, "开团 P1-M")
    group_no = re.search(r"G\d{18}", opened.shown)[0]  # type: ignore[index]
    await pay_from_reply(world, LEADER, opened.shown)
    joined = await chat.send_text(FRIENDS[0], f"参团 {group_no}")
    await pay_from_reply(world, FRIENDS[0], joined.shown)
    world.clock.advance(hours=47)
    assert await close_groups({"deps": world.deps()}) == 0
    world.clock.advance(hours=1, minutes=1)
    assert await close_groups({"deps": world.deps()}) == 1
    assert await close_groups({"deps": world.deps()}) == 0, "once"
    assert Group.get(Group.group_no == group_no).status == FAILED
    assert [o.status for o in Order.select()] == [REFUNDED, REFUNDED]
    refunds = [r.refund_fee for o in Order.select() for r in world.sandbox.pay.order(o.order_no).refunds]
    assert refunds == [9900, 9900], "each payment refunded once, in full"
    assert Notice.select().where(Notice.kind == "group_failed").count() == 2
    again = await chat.send_text(FRIENDS[1], f"参团 {group_no}")
    assert "已经满员或结束" in again.shown


async def test_offers_and_groups_through_the_admin_api(world: PayWorld) -> None:
    status, offer = await world.admin("PUT", "/admin/api/group-offers/P2-L", json={"price_fen": 2990})
    assert status == 200, offer
    assert (offer["size"], offer["window_hours"], offer["limit_per_follower"]) == (3, 48, 1), "[marketing] defaults"
    status, bad = await world.admin("PUT", "/admin/api/group-offers/P2-L", json={"price_fen": 0, "size": 1})
    assert status == 422 and len(bad["problems"]) == 2, bad
    status, _ = await world.admin("PUT", "/admin/api/group-offers/NOPE", json={"price_fen": 100})
    assert status == 404
    status, listed = await world.admin("GET", "/admin/api/group-offers")
    assert sorted(o["sku_code"] for o in listed["offers"]) == ["P1-M", "P2-L"]
    opened = await follower(world).send_text(LEADER, "开团 P2-L")
    assert "¥29.9" in opened.shown, opened.shown
    await pay_from_reply(world, LEADER, opened.shown)
    status, groups = await world.admin("GET", "/admin/api/groups?status=open")
    assert [(g["leader"], g["paid"], g["price_fen"]) for g in groups["groups"]] == [(LEADER, 1, 2990)]


async def test_catalog_csv_group_columns_import_validate_and_export(world: PayWorld) -> None:
    header = "category,spu,title,sku,price,stock,group_price,group_size,group_window_hours,group_limit\n"
    bad = "服饰,P9,拼团T恤,P9-S,59.00,10,,4,,\n服饰,P9,拼团T恤,P9-M,59.00,10,0,1,0,\n"
    status, refused = await world.admin("POST", "/admin/api/products", data=(header + bad).encode())
    assert status == 422, refused
    assert refused["problems"] == [
        "line 2, column group_size: needs a group_price on the same line",
        "line 3, column group_price: must be more than 0",
        "line 3, column group_size: a group needs at least 2 buyers",
        "line 3, column group_window_hours: must be at least 1",
    ]
    good = "服饰,P9,拼团T恤,P9-S,59.00,10,39.90,,,\n服饰,P9,拼团T恤,P9-M,59.00,10,35.00,5,24,2\n"
    status, _ = await world.admin("POST", "/admin/api/products", data=(header + good).encode())
    assert status == 200
    status, listed = await world.admin("GET", "/admin/api/group-offers")
    terms = {o["sku_code"]: (o["price_fen"], o["size"], o["window_hours"], o["limit_per_follower"])
             for o in listed["offers"]}  # fmt: skip
    assert terms["P9-S"] == (3990, 3, 48, 1), "empty cells take [marketing] defaults"
    assert terms["P9-M"] == (3500, 5, 24, 2)
    exported = {line.split(",")[3]: line.split(",")[-4:] for line in export_text().splitlines()[1:]}
    assert exported["P9-M"] == ["35.00", "5", "24", "2"] and exported["P2-L"] == ["", "", "", ""]
