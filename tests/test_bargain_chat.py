"""砍价 through the real pipeline: signed WeChat XML over HTTP for 砍价 / 帮砍 / 砍价下单 / 我的砍价, a friend
following through the bargain's code, the share page, WeChat Pay's sandbox for the purchase, the outbox for the
starter's notices, the worker's expiry sweep and the admin API."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from bot.chat.conversation import SEARCH_BUILT
from bot.process.config import Config
from bot.sandbox.follower import FollowerSimulator
from bot.wechat.gateway import LATE_TASKS
from scheduler.bargain_jobs import close_bargains
from store.bargain.models import COMPLETE, EXPIRED, ORDERED, Bargain
from store.bargain.operations import OfferInput, set_offer
from store.catalog.csv_format import export_text
from store.core.db import write_transaction
from store.orders.addresses import remember_address
from store.orders.checkout import PAID, Order
from store.outbox.notices import Notice
from tests.gateway_support import account_for
from tests.order_support import HOME, START
from tests.pay_support import PayWorld, pay_world

STARTER, FRIENDS = "o_kj_starter", ("o_kj_friend1", "o_kj_friend2", "o_kj_friend3")


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        set_offer(OfferInput(w.shop.dress, floor_fen=9900, helpers=3, window_hours=24), START)
        for openid in (STARTER, *FRIENDS[:2]):
            w.sandbox.world.follow(openid)
        with write_transaction():
            remember_address(STARTER, HOME, START)
        yield w


def follower(w: PayWorld) -> FollowerSimulator:
    url = f"{w.shop_url}{w.config.server.wechat_path}"
    return FollowerSimulator(url, account_for(w.config, "plain"), w.session, w.clock, world=w.sandbox.world)


def bargain_no_of(card_url: str) -> str:
    return re.search(r"/k/(K\d{18})$", card_url)[1]  # type: ignore[index]


async def test_friends_cut_and_the_starter_buys_at_the_price_reached(world: PayWorld) -> None:
    await world.app[SEARCH_BUILT]  # the index builds in the background at start-up; a slow machine misses 5 s
    chat = follower(world)
    shown = await chat.send_text(STARTER, "连衣裙")
    assert "碎花连衣裙" in shown.shown
    await chat.send_text(STARTER, "1")  # the product card: 砍价 now means this product
    started = await chat.send_text(STARTER, "砍价")
    assert started.reply["MsgType"] == "news", started.shown
    item = started.reply["Articles"]["item"]
    assert "最低¥99" in item["Title"] and "还差3位好友" in item["Description"], item
    bargain_no = bargain_no_of(item["Url"])
    async with world.session.get(item["Url"]) as page:
        assert page.status == 200
        html = await page.text()
    assert f"帮砍 {bargain_no}" in html and "¥159" in html

    own = await chat.send_text(STARTER, f"帮砍 {bargain_no}")
    assert "不能给自己砍价" in own.shown
    first = await chat.send_text(FRIENDS[0], f"帮砍 {bargain_no}")
    assert "您帮好友砍掉了¥" in first.shown and "还差2位好友" in first.shown, first.shown
    again = await chat.send_text(FRIENDS[0], f"帮砍 {bargain_no}")
    assert "每人只能砍一次" in again.shown
    newcomer = await chat.follow("o_kj_newcomer", scene=f"kj_{bargain_no}")
    await asyncio.gather(*world.app[LATE_TASKS])  # the cut follows the welcome as a customer-service message
    said = [newcomer.shown] + [
        d.payload["text"]["content"] for d in world.sandbox.world.delivered("o_kj_newcomer") if d.kind == "custom"
    ]
    assert any("您帮好友砍掉了¥" in text and "还差1位好友" in text for text in said), said
    await chat.unfollow("o_kj_newcomer")
    back = await chat.follow("o_kj_newcomer", scene=f"kj_{bargain_no}")
    await asyncio.gather(*world.app[LATE_TASKS])
    assert Bargain.get(Bargain.bargain_no == bargain_no).cuts == 2, back.shown + " — a refollow cuts nothing"

    price = Bargain.get(Bargain.bargain_no == bargain_no).price_fen
    assert 9900 < price < 15900
    bought = await chat.send_text(STARTER, "砍价下单")
    assert "砍价下单成功" in bought.shown, bought.shown
    order_no = re.search(r"/pay/(\w+)", bought.shown)[1]  # type: ignore[index]
    params = await world.pay_params(order_no, STARTER)
    assert (await world.confirm(params, STARTER))["err_msg"] == "get_brand_wcpay_request:ok"
    await world.sandbox.pay.deliver_due()
    order = Order.get(Order.order_no == order_no)
    assert (order.status, order.payable_fen) == (PAID, price)
    assert Bargain.get(Bargain.bargain_no == bargain_no).status == ORDERED
    late = await chat.send_text(FRIENDS[1], f"帮砍 {bargain_no}")
    assert "已经结束" in late.shown

    waiting = list(Notice.select().where(Notice.kind == "bargain_cut"))
    assert len(waiting) == 1, "two cuts within minutes: one progress notice"
    await world.deliver_notices()
    texts = [d.payload["text"]["content"] for d in world.sandbox.world.delivered(STARTER) if d.kind == "custom"]
    assert sum("又有好友帮您砍了一刀" in t and "已有2位好友助力" in t for t in texts) == 1, texts


async def test_the_last_cut_completes_and_the_starter_buys_at_the_floor(world: PayWorld) -> None:
    chat = follower(world)
    started = await chat.send_text(STARTER, "砍价 P1-M")
    bargain_no = bargain_no_of(started.reply["Articles"]["item"]["Url"])
    for openid in (*FRIENDS[:2], "o_kj_friend9"):
        if openid == "o_kj_friend9":
            await chat.follow(openid)
        cut = await chat.send_text(openid, f"帮砍 {bargain_no}")
        assert "您帮好友砍掉了¥" in cut.shown, cut.shown
    assert "砍到底价¥99啦" in cut.shown
    assert Bargain.get(Bargain.bargain_no == bargain_no).status == COMPLETE
    mine = await chat.send_text(STARTER, "我的砍价")
    assert "已砍到底价¥99" in mine.reply["Articles"]["item"]["Description"]
    bought = await chat.send_text(STARTER, "砍价下单")
    assert "砍价价¥99" in bought.shown, bought.shown
    assert Notice.select().where(Notice.kind == "bargain_complete", Notice.openid == STARTER).count() == 1
    await world.deliver_notices()
    texts = [d.payload["text"]["content"] for d in world.sandbox.world.delivered(STARTER) if d.kind == "custom"]
    assert sum("砍价成功" in t for t in texts) == 1 and not any("又有好友" in t for t in texts), texts


async def test_an_unbought_bargain_expires_in_the_worker_sweep(world: PayWorld) -> None:
    chat = follower(world)
    started = await chat.send_text(STARTER, "砍价 P1-M")
    bargain_no = bargain_no_of(started.reply["Articles"]["item"]["Url"])
    world.clock.advance(hours=23, minutes=59)
    assert await close_bargains({"deps": world.deps()}) == 0
    world.clock.advance(minutes=1)
    assert await close_bargains({"deps": world.deps()}) == 1
    assert await close_bargains({"deps": world.deps()}) == 0, "once"
    assert Bargain.get(Bargain.bargain_no == bargain_no).status == EXPIRED
    late = await chat.send_text(FRIENDS[0], f"帮砍 {bargain_no}")
    assert "已经结束" in late.shown
    bought = await chat.send_text(STARTER, "砍价下单")
    assert "没有可以下单的砍价" in bought.shown
    async with world.session.get(f"{world.shop_url}/k/{bargain_no}") as page:
        assert "这个砍价已结束" in await page.text()
    async with world.session.get(f"{world.shop_url}/k/K000000000000000000") as page:
        assert page.status == 404


async def test_operators_set_offers_and_list_bargains_in_the_admin_api(world: PayWorld) -> None:
    status, body = await world.admin("PUT", "/admin/api/bargain-offers/P2-L", json={"floor_fen": 2999})
    assert status == 200, body
    assert (body["helpers"], body["window_hours"], body["price_fen"]) == (5, 24, 4999), "[marketing] defaults"
    status, body = await world.admin("PUT", "/admin/api/bargain-offers/P2-L",
                                     json={"floor_fen": 4998, "helpers": "3"})  # fmt: skip
    assert status == 422 and body["problems"] == ["helpers must be an integer"], body
    status, body = await world.admin("PUT", "/admin/api/bargain-offers/P2-L", json={"floor_fen": 4998})
    assert status == 422 and "1 fen per helper" in body["problems"][0], body
    status, body = await world.admin("PUT", "/admin/api/bargain-offers/NOPE", json={"floor_fen": 1})
    assert status == 404
    status, body = await world.admin("PUT", "/admin/api/bargain-offers/P2-L", data=b"{")
    assert status == 400
    status, body = await world.admin("GET", "/admin/api/bargain-offers")
    assert [o["sku_code"] for o in body["offers"]] == ["P1-M", "P2-L"]
    await follower(world).send_text(STARTER, "砍价 P1-M")
    status, body = await world.admin("GET", "/admin/api/bargains?status=open")
    assert status == 200 and [b["starter"] for b in body["bargains"]] == [STARTER]
    status, body = await world.admin("GET", "/admin/api/bargains?limit=abc")
    assert status == 400


async def test_catalog_csv_bargain_columns_import_validate_and_export(world: PayWorld) -> None:
    header = "category,spu,title,sku,price,stock,bargain_floor,bargain_helpers,bargain_window_hours\n"
    bad = "服饰,P9,砍价T恤,P9-S,59.00,10,39.90,,\n服饰,P9,砍价T恤,P9-M,0.05,10,0.01,5,0\n"
    status, refused = await world.admin("POST", "/admin/api/products", data=(header + bad).encode())
    assert status == 422, refused
    assert refused["problems"] == [
        "line 2, column bargain_helpers: the 砍价 columns go together: fill all three or none",
        "line 2, column bargain_window_hours: the 砍价 columns go together: fill all three or none",
        "line 3, column bargain_window_hours: must be 1..720",
        "line 3, column bargain_floor: must be above 0 and leave at least 1 fen per helper below the price",
    ], refused["problems"]
    assert Bargain.select().count() == 0
    good = "服饰,P9,砍价T恤,P9-S,59.00,10,39.90,4,12\n"
    status, _ = await world.admin("POST", "/admin/api/products", data=(header + good).encode())
    assert status == 200
    status, listed = await world.admin("GET", "/admin/api/bargain-offers")
    terms = {o["sku_code"]: (o["floor_fen"], o["helpers"], o["window_hours"]) for o in listed["offers"]}
    assert terms == {"P1-M": (9900, 3, 24), "P9-S": (3990, 4, 12)}
    lines = export_text().splitlines()
    assert lines[0].endswith(",tags,bargain_floor,bargain_helpers,bargain_window_hours"), lines[0]
    exported = {line.split(",")[3]: line.split(",")[-3:] for line in lines[1:]}
    assert exported["P9-S"] == ["39.90", "4", "12"] and exported["P2-L"] == ["", "", ""]
    assert exported["P1-M"] == ["99.00", "3", "24"]
