"""Browsing and searching in chat over HTTP, against the imported test catalog."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest
import redis
from aiohttp.test_utils import TestServer

from bot.process.config import Config
from bot.sandbox import World
from bot.sandbox.mp_api import create_mp_app
from bot.web.runtime import RESOURCES
from bot.wechat.gateway import LATE_TASKS
from store.catalog.csv_import import import_file
from store.catalog.products import Product, Sku
from store.core.clock import ManualClock
from store.core.db import close_database, open_database
from store.monitoring.funnel import FunnelEvent
from tests.gateway_support import running
from tests.test_engine import TOKEN, with_admin

CATALOG = Path(__file__).parent / "data" / "catalog.csv"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
IMPORT_HEADER = "category,spu,title,sku,spec,price,stock,stock_alert,commission_rate,virtual,image,description,tags\n"


@pytest.fixture
def shop_config(migrated: Config) -> Config:
    open_database(migrated.database.url, migrated.var_dir)
    import_file(CATALOG)
    close_database()
    return migrated


async def test_browse_categories_to_a_sku(shop_config: Config) -> None:
    clock = ManualClock()
    world = World(shop_config.wechat.app_id, shop_config.wechat.app_secret, clock)
    mp = TestServer(create_mp_app(world), host="127.0.0.1")
    await mp.start_server()
    config = dataclasses.replace(
        shop_config, wechat=dataclasses.replace(shop_config.wechat, api_base_url=str(mp.make_url("")).rstrip("/"))
    )
    try:
        async with running(config, clock) as shop:
            world.follow("o_b")
            follower = shop.follower(world=world)
            top = await follower.click("o_b", "BROWSE")
            assert "请选择分类" in top.shown and "1. 服饰" in top.shown
            clothes = await follower.send_text("o_b", "1")
            assert "服饰下有" in clothes.shown and "女装" in clothes.shown
            women = await follower.send_text("o_b", "女装")
            assert "连衣裙" in women.shown
            dresses = await follower.send_text("o_b", "连衣裙")
            assert "服饰/女装/连衣裙（第1页" in dresses.shown and "1. 法式碎花雪纺连衣裙" in dresses.shown
            card = await follower.send_text("o_b", "1")
            assert card.reply["MsgType"] == "news"
            item = card.reply["Articles"]["item"]
            assert item["Title"].startswith("法式碎花雪纺连衣裙") and "¥159" in item["Description"]
            assert item["Url"].endswith("/p/P001")
            await asyncio.gather(*shop.app[LATE_TASKS])
            question = world.delivered("o_b")[-1].payload["text"]["content"]
            assert "可选规格" in question and "红色 M ¥159（库存42）" in question
            chosen = await follower.send_text("o_b", "红色 M")
            assert chosen.shown == "已选：红色 M，¥159，库存42件。请回复购买数量。"

            open_database(shop_config.database.url, shop_config.var_dir)
            assert FunnelEvent.select().where(FunnelEvent.kind == "exposure").count() == 1
    finally:
        await mp.close()


async def test_product_list_pages_and_numbers(shop_config: Config) -> None:
    async with running(shop_config) as shop:
        follower = shop.follower()
        first = await follower.send_text("o_p", "看看女装")
        assert "“下一页”看更多" in first.shown and first.shown.count("\n") == 9, first.shown
        second = await follower.send_text("o_p", "下一页")
        assert "1. " in second.shown and "“下一页”" not in second.shown
        assert set(first.shown.splitlines()[1:-1]).isdisjoint(second.shown.splitlines()[1:-1])
        assert "抱歉，没听懂" in (await follower.send_text("o_p", "99")).shown, "out of range: re-prompt"
        back = await follower.send_text("o_p", "上一页")
        assert back.shown == first.shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("看看连衣裙", ("连衣裙",)),
        ("有没有蓝牙耳机", ("耳机",)),
        ("200以内的红色连衣裙", ("连衣裙",)),
        ("口红", ("口红", "唇膏")),  # 唇膏 is a synonym in the shipped lexicon
        ("找四件套", ("四件套",)),
    ],
)
async def test_search_in_chat(shop_config: Config, text: str, expected: tuple[str, ...]) -> None:
    async with running(shop_config) as shop:
        found = await shop.follower().send_text("o_s", text)
        assert "相关商品" in found.shown and "1. " in found.shown, found.shown
        first_line = found.shown.splitlines()[1]
        assert any(word in first_line for word in expected), found.shown


async def test_search_price_filter_and_selection(shop_config: Config) -> None:
    async with running(shop_config) as shop:
        follower = shop.follower()
        found = await follower.send_text("o_f", "200以内的红色连衣裙")
        prices = [int(line.split("¥")[1].split("（")[0].split(".")[0]) for line in found.shown.splitlines()[1:-1]]
        assert prices and all(price <= 200 for price in prices)
        card = await follower.send_text("o_f", "1")
        assert card.reply["MsgType"] == "news"


async def test_nothing_found_suggests_categories(shop_config: Config) -> None:
    async with running(shop_config) as shop:
        missing = await shop.follower().send_text("o_n", "看看潜水艇")
        assert "没找到“潜水艇”" in missing.shown and "逛商城" in missing.shown


async def test_a_miss_offers_the_closest_products(shop_config: Config) -> None:
    async with running(shop_config) as shop:
        follower = shop.follower()
        missing = await follower.send_text("o_m", "看看无人机")
        assert "没找到“无人机”相关的商品（找了：无人机）。这些最接近：" in missing.shown, missing.shown
        assert "\n1. " in missing.shown and "逛商城" in missing.shown
        card = await follower.send_text("o_m", "1")
        assert card.reply["MsgType"] == "news"


async def test_description_words_alone_are_offered_as_maybe_related(shop_config: Config) -> None:
    async with running(shop_config) as shop:
        found = await shop.follower().send_text("o_d", "看看面料")
        assert found.shown.startswith("没有正好是“面料”的商品，这些可能相关：\n1. "), found.shown


async def test_synonyms_and_traditional_characters_find_products_in_chat(shop_config: Config) -> None:
    async with running(shop_config) as shop:
        found = await shop.follower().send_text("o_t", "有沒有跑鞋")
        assert "相关商品" in found.shown and "跑" in found.shown.splitlines()[1], found.shown


async def test_sold_out_sku_is_refused(shop_config: Config) -> None:
    async with running(shop_config) as shop:
        follower = shop.follower()
        await follower.send_text("o_x", "看看波点复古连衣裙")
        await follower.send_text("o_x", "1")
        sold_out = await follower.send_text("o_x", "红色 M")
        assert "已售罄" in sold_out.shown


async def test_product_page(shop_config: Config) -> None:
    async with running(shop_config) as shop:
        page = await shop.session.get(shop.server.make_url("/p/P001"))
        html = await page.text()
        assert page.status == 200 and "法式碎花雪纺连衣裙" in html and "¥159" in html
        assert (await shop.session.get(shop.server.make_url("/p/NOPE"))).status == 404
        open_database(shop_config.database.url, shop_config.var_dir)
        assert FunnelEvent.select().where(FunnelEvent.kind == "click").count() == 1


async def test_product_words_while_browsing_search(shop_config: Config) -> None:
    async with running(shop_config) as shop:
        follower = shop.follower()
        assert "请选择分类" in (await follower.click("o_w", "BROWSE")).shown
        found = await follower.send_text("o_w", "连衣裙")
        assert "为您找到“连衣裙”相关商品" in found.shown
        again = await follower.send_text("o_w", "口红")
        assert "为您找到“口红”相关商品" in again.shown, "a new product word in the list searches again"
        assert "抱歉，没听懂" in (await follower.send_text("o_w", "啊啊啊")).shown


async def test_a_member_sees_the_tier_price(shop_config: Config) -> None:
    from store.core.db import write_transaction
    from store.members.accounts import MemberRules, record_payment

    clock = ManualClock()
    world = World(shop_config.wechat.app_id, shop_config.wechat.app_secret, clock)
    mp = TestServer(create_mp_app(world), host="127.0.0.1")
    await mp.start_server()
    config = dataclasses.replace(
        shop_config, wechat=dataclasses.replace(shop_config.wechat, api_base_url=str(mp.make_url("")).rstrip("/"))
    )
    open_database(shop_config.database.url, shop_config.var_dir)
    with write_transaction():
        record_payment("o_vip", "EARLIER", 600000, "T1", clock.now(), MemberRules())  # 6,000 yuan: VIP
    try:
        async with running(config, clock) as shop:
            world.follow("o_vip")
            follower = shop.follower(world=world)
            await follower.send_text("o_vip", "看看法式碎花雪纺连衣裙")
            await follower.send_text("o_vip", "1")
            await asyncio.gather(*shop.app[LATE_TASKS])
            question = world.delivered("o_vip")[-1].payload["text"]["content"]
            assert "红色 M ¥159，VIP会员价¥151.05（库存42）" in question, question
    finally:
        await mp.close()


async def test_the_chosen_sku_is_read_fresh(shop_config: Config) -> None:
    """The spec copy answers "红色"; the one SKU picked is read as it is now (an order just took the last M)."""
    async with running(shop_config) as shop:
        follower = shop.follower()
        await follower.send_text("o_s", "看看法式碎花雪纺连衣裙")
        await follower.send_text("o_s", "1")
        assert "有几个规格符合" in (await follower.send_text("o_s", "红色")).shown
        open_database(shop_config.database.url, shop_config.var_dir)
        Sku.update(stock=0).where(Sku.code == "P001-02").execute()
        assert "红色 M 已售罄" in (await follower.send_text("o_s", "红色 M")).shown
        Sku.update(on_sale=False).where(Sku.code == "P001-03").execute()
        assert "红色 L 已下架" in (await follower.send_text("o_s", "红色 L")).shown


async def test_an_import_changes_the_specs_followers_can_pick(shop_config: Config) -> None:
    async with running(with_admin(shop_config)) as shop:
        follower = shop.follower()
        await follower.send_text("o_i", "看看法式碎花雪纺连衣裙")
        await follower.send_text("o_i", "1")
        before = await follower.send_text("o_i", "红色 XL")
        assert "有几个规格符合" in before.shown and "XL" not in before.shown
        rows = (
            "服饰/女装/连衣裙,P001,法式碎花雪纺连衣裙 夏季新款,P001-09,颜色:红色;尺码:XL,169.00,6,1,0.1,0,,,\n"
            "数码/耳机/蓝牙耳机,PX9,骨传导运动耳机,PX9-01,颜色:黑色,299.00,5,1,0.05,0,,,\n"
        )
        url = shop.server.make_url("/admin/api/products")
        imported = await shop.session.post(url, data=(IMPORT_HEADER + rows).encode(), headers=ADMIN)
        assert imported.status == 200
        # The process drops its spec copy, then rebuilds the search index, on the same announcement: once another
        # follower finds the new product, the copy is gone.
        for _ in range(200):
            if "骨传导运动耳机" in (await follower.send_text("o_poll", "看看骨传导运动耳机")).shown:
                break
            await asyncio.sleep(0.01)  # waiting for the announcement to arrive, not for a timer
        else:
            raise AssertionError("the import's announcement never reached the search index")
        assert (await follower.send_text("o_i", "红色 XL")).shown == "已选：红色 XL，¥169，库存6件。请回复购买数量。"


async def test_search_results_show_stock_as_it_is_now(shop_config: Config) -> None:
    """Orders and restocks change stock without rebuilding the search index: the 已售罄 label follows this
    process's own stock writes at once, and another process's (a worker cancelling an order) within two seconds."""
    shop_config = with_admin(shop_config)
    async with running(shop_config) as shop:
        follower = shop.follower()
        first = await follower.send_text("o_q", "看看法式碎花雪纺连衣裙")
        assert "1. 法式碎花雪纺连衣裙" in first.shown and "已售罄" not in first.shown.splitlines()[1]
        open_database(shop_config.database.url, shop_config.var_dir)
        dress = Sku.get(Sku.code == "P001-01").product_id
        codes = [code for (code,) in Sku.select(Sku.code).where(Sku.product == dress).tuples()]
        for code in codes:  # the operator's stocktake, through this process
            url = shop.server.make_url(f"/admin/api/skus/{code}/stock")
            assert (await shop.session.put(url, json={"stock": 0}, headers=ADMIN)).status == 200
        sold_out = await follower.send_text("o_q2", "看看法式碎花雪纺连衣裙")
        assert sold_out.shown.splitlines()[1].endswith("（已售罄）"), sold_out.shown
        Sku.update(stock=3).where(Sku.code == "P001-04").execute()  # another process's write
        shop.clock.advance(seconds=2)
        back = await follower.send_text("o_q3", "看看法式碎花雪纺连衣裙")
        assert "已售罄" not in back.shown.splitlines()[1], back.shown


async def test_a_name_picks_from_the_list_as_it_was_shown(shop_config: Config) -> None:
    """The listed products' names travel in the dialog state, so a name is matched without reading each listed
    product: a title changed since the list was shown still picks what the follower saw."""
    async with running(shop_config) as shop:
        follower = shop.follower()
        assert "为您找到“连衣裙”相关商品" in (await follower.send_text("o_n", "连衣裙")).shown
        open_database(shop_config.database.url, shop_config.var_dir)
        Product.update(title="宴会长裙").where(Product.code == "P002").execute()
        card = await follower.send_text("o_n", "真丝")
        assert card.reply["MsgType"] == "news", card.shown
        assert card.reply["Articles"]["item"]["Title"].startswith("宴会长裙")


async def test_a_list_stored_without_its_names_still_picks_by_name(shop_config: Config) -> None:
    """A conversation saved before the names were kept (a deploy mid-conversation) reads them in one query."""
    async with running(shop_config) as shop:
        open_database(shop_config.database.url, shop_config.var_dir)
        listed = Product.select().where(Product.code.in_(["P001", "P002", "P003"])).order_by(Product.id)
        options = [p.id for p in listed]
        state = {
            "flow": "browse", "state": "LIST", "slots": {"options": options, "query": "连衣裙", "page": 1},
            "retries": 0, "misses": 0, "expires_at": shop.clock.now().timestamp() + 600, "v": 1,
        }  # fmt: skip
        client = redis.Redis.from_url(shop.app[RESOURCES].redis_url)
        try:
            client.set(f"{shop_config.redis.prefix}dialog:o_old", json.dumps(state, ensure_ascii=False))
        finally:
            client.close()
        follower = shop.follower()
        card = await follower.send_text("o_old", "条纹")
        assert card.reply["MsgType"] == "news", card.shown
        assert card.reply["Articles"]["item"]["Title"].startswith("纯棉条纹衬衫裙")
