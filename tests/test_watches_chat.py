"""到货提醒 / 降价提醒 over signed HTTP: subscribing from the product in view, 我的提醒 and 取消提醒; a restock
through the admin API and a price drop through the catalog CSV notify each watcher exactly once through the
outbox (customer-service message inside the window, template message outside), at most `per_day` a day."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.chat.conversation import SEARCH_BUILT
from bot.process.config import Config
from bot.sandbox.follower import FollowerSimulator
from scheduler.watch_jobs import notify_watches
from store.catalog.csv_format import export_text
from store.catalog.products import Sku
from store.catalog.watches import ProductWatch, notify_due, watch
from store.members.privacy import forget_follower
from store.outbox.notices import Notice
from tests.gateway_support import account_for
from tests.order_support import START, race
from tests.pay_support import PayWorld, pay_world

ALICE, BOB, CAROL = "o_w_alice", "o_w_bob", "o_w_carol"
TEMPLATES = {"product_alert": {"template_id": "TPL_ALERT", "fields": {
    "goods": "thing1", "status": "thing2", "price": "amount3", "at": "time4"}}}  # fmt: skip


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(dataclasses.replace(migrated, templates=TEMPLATES)) as w:
        for openid in (ALICE, BOB, CAROL):
            w.sandbox.world.follow(openid)
        await w.app[SEARCH_BUILT]  # the index builds in the background at start-up; a slow machine misses 5 s
        yield w


def follower(w: PayWorld) -> FollowerSimulator:
    url = f"{w.shop_url}{w.config.server.wechat_path}"
    return FollowerSimulator(url, account_for(w.config, "plain"), w.session, w.clock, world=w.sandbox.world)


async def sweep(w: PayWorld) -> int:
    """The worker's cron job, as it runs it."""
    return await notify_watches({"deps": w.deps(alerts_per_day=w.config.marketing.alerts_per_day)})


async def view(chat: FollowerSimulator, openid: str, text: str) -> str:
    listed = await chat.send_text(openid, text)
    if "1." in listed.shown and "法式碎花连衣裙" in listed.shown:
        return (await chat.send_text(openid, "1")).shown
    return listed.shown


def delivered(w: PayWorld, openid: str) -> list[tuple[str, str]]:
    out = []
    for d in w.sandbox.world.delivered(openid):
        if d.kind == "custom":
            out.append(("custom", d.payload["text"]["content"]))
        elif d.kind == "template":
            assert d.payload["template_id"] == "TPL_ALERT"
            out.append(("template", d.payload["data"]["thing2"]["value"]))
    return out


async def test_a_restock_tells_each_watcher_once(world: PayWorld) -> None:
    status, _ = await world.admin("PUT", "/admin/api/skus/P1-M/stock", json={"stock": 0})
    assert status == 200
    chat = follower(world)
    assert "请先打开想关注的商品" in (await chat.send_text(ALICE, "到货通知我")).shown
    card = await view(chat, ALICE, "法式碎花连衣裙")
    assert "法式碎花连衣裙" in card, card
    said = (await chat.send_text(ALICE, "到货通知我")).shown
    assert "好的，“法式碎花连衣裙”到货后第一时间通知您" in said, said
    assert "已经为您登记过" in (await chat.send_text(ALICE, "到货提醒")).shown
    await view(chat, BOB, "法式碎花连衣裙")
    assert "到货后第一时间通知您" in (await chat.send_text(BOB, "有货通知我")).shown
    listed = (await chat.send_text(ALICE, "我的提醒")).shown
    assert "1. 到货提醒：法式碎花连衣裙" in listed, listed

    assert await sweep(world) == 0, "nothing restocked yet"
    status, _ = await world.admin("POST", "/admin/api/skus/P1-M/restock", json={"quantity": 5})
    assert status == 200
    world.clock.advance(hours=49)  # BOB's window (his last message) closes; ALICE writes again
    await chat.send_text(ALICE, "你好")
    assert await sweep(world) == 2
    assert await sweep(world) == 0, "told once"
    await world.deliver_notices()
    alice = [text for kind, text in delivered(world, ALICE) if kind == "custom" and text.startswith("您关注的")]
    assert alice == ["您关注的“法式碎花连衣裙”已到货，现价¥159.00。回复商品名即可选购，回复“我的提醒”查看其他提醒。"]
    assert ("template", "已到货") in delivered(world, BOB), delivered(world, BOB)
    assert Notice.select().where(Notice.kind == "product_alert").count() == 2
    assert "还没有到货或降价提醒" in (await chat.send_text(ALICE, "我的提醒")).shown


async def test_in_stock_goods_need_no_restock_watch_but_take_a_price_watch(world: PayWorld) -> None:
    chat = follower(world)
    await view(chat, CAROL, "法式碎花连衣裙")
    assert "还有货" in (await chat.send_text(CAROL, "到货通知我")).shown
    said = (await chat.send_text(CAROL, "降价提醒")).shown
    assert "降价时第一时间通知您（现价¥159起）" in said, said

    csv = export_text().replace(",159.00,", ",139.00,")
    assert ",139.00," in csv
    async with world.session.post(f"{world.shop_url}/admin/api/products", data=csv.encode(), headers={
            "Authorization": "Bearer admin-secret-token", "Content-Type": "text/csv"}) as response:  # fmt: skip
        assert response.status == 200, await response.text()
    assert await sweep(world) == 1
    await world.deliver_notices()
    texts = [text for kind, text in delivered(world, CAROL) if text.startswith("您关注的")]
    assert texts == ["您关注的“法式碎花连衣裙”已降价，现价¥139.00。回复商品名即可选购，回复“我的提醒”查看其他提醒。"]


async def test_a_sold_out_spec_is_watched_from_the_spec_list(world: PayWorld) -> None:
    from store.catalog.products import Product

    dresses = Product.get(Product.code == "P1")
    Sku.create(code="P1-L", product=dresses, spec="颜色:红色;尺码:L", price_fen=15900, stock=0)
    chat = follower(world)
    card = await view(chat, CAROL, "法式碎花连衣裙")
    assert "法式碎花连衣裙" in card
    sold_out = (await chat.send_text(CAROL, "红色 L")).shown
    assert "红色 L 已售罄" in sold_out and "到货通知我 红色 L" in sold_out, sold_out
    assert "“法式碎花连衣裙”红色 M有货" in (await chat.send_text(CAROL, "到货通知我 红色 M")).shown
    said = (await chat.send_text(CAROL, "到货通知我 红色 L")).shown
    assert "好的，“法式碎花连衣裙”红色 L到货后第一时间通知您" in said, said
    assert "到货提醒：法式碎花连衣裙 红色 L" in (await chat.send_text(CAROL, "我的提醒")).shown
    await world.admin("POST", "/admin/api/skus/P1-M/restock", json={"quantity": 5})
    assert await sweep(world) == 0, "another spec's restock is not the one watched"
    await world.admin("POST", "/admin/api/skus/P1-L/restock", json={"quantity": 2})
    assert await sweep(world) == 1


async def test_cancelling_watches(world: PayWorld) -> None:
    await world.admin("PUT", "/admin/api/skus/P1-M/stock", json={"stock": 0})
    chat = follower(world)
    await view(chat, ALICE, "法式碎花连衣裙")
    await chat.send_text(ALICE, "到货通知我")
    await chat.send_text(ALICE, "降价提醒")
    listed = (await chat.send_text(ALICE, "我的提醒")).shown
    assert "1. 到货提醒" in listed and "2. 降价提醒：法式碎花连衣裙（登记时¥159）" in listed, listed
    assert "没有这个序号" in (await chat.send_text(ALICE, "取消第3个提醒")).shown
    assert "已取消“法式碎花连衣裙”的提醒" in (await chat.send_text(ALICE, "取消第1个提醒")).shown
    assert ProductWatch.select().where(ProductWatch.openid == ALICE).count() == 0
    assert "还没有" in (await chat.send_text(ALICE, "取消提醒")).shown


def test_a_follower_is_told_at_most_per_day(world: PayWorld) -> None:
    shop = world.shop
    for sku_id in (shop.dress, shop.tee, shop.card):
        Sku.update(stock=0).where(Sku.id == sku_id).execute()
    products = [Sku.get_by_id(s).product_id for s in (shop.dress, shop.tee, shop.card)]
    for product_id in products:
        watch(ALICE, product_id, "restock", START)
    Sku.update(stock=3).execute()
    assert notify_due(START, per_day=2) == 2
    assert notify_due(START + timedelta(hours=1), per_day=2) == 0, "the third waits for the next day"
    assert notify_due(START + timedelta(days=1), per_day=2) == 1
    assert ProductWatch.select().where(ProductWatch.notified_at.is_null()).count() == 0


def test_an_unfollow_forgets_the_watches(world: PayWorld) -> None:
    Sku.update(stock=0).where(Sku.id == world.shop.dress).execute()
    product_id = Sku.get_by_id(world.shop.dress).product_id
    watch(BOB, product_id, "restock", START)
    watch(BOB, product_id, "price_drop", START)
    assert forget_follower(BOB, START)["watches"] == 2
    assert ProductWatch.select().where(ProductWatch.openid == BOB).count() == 0


def test_racing_sweeps_tell_each_watcher_once(world: PayWorld) -> None:
    Sku.update(stock=0).where(Sku.id == world.shop.dress).execute()
    product_id = Sku.get_by_id(world.shop.dress).product_id
    watchers = [f"o_w_race_{i}" for i in range(12)]
    for openid in watchers:
        watch(openid, product_id, "restock", START)
    Sku.update(stock=5).where(Sku.id == world.shop.dress).execute()
    results = race(4, 4, lambda i: notify_due(START, per_day=3))
    assert sum(r for r in results if isinstance(r, int)) == 12, results
    told = [n.openid for n in Notice.select().where(Notice.kind == "product_alert")]
    assert sorted(told) == sorted(watchers)
