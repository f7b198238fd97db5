"""The catalog admin API: list, read, import CSV (validated whole), stocktake and restock; search follows."""

from __future__ import annotations

from bot.process.config import Config
from store.catalog.products import Sku
from store.core.db import open_database
from tests.gateway_support import running
from tests.test_browse_chat import shop_config  # noqa: F401 - the fixture with the demo catalog imported
from tests.test_engine import TOKEN, with_admin

AUTH = {"Authorization": f"Bearer {TOKEN}"}
HEADER = "category,spu,title,sku,spec,price,stock,stock_alert,commission_rate,virtual,image,description,tags\n"


async def test_products_and_stock(shop_config: Config) -> None:  # noqa: F811
    async with running(with_admin(shop_config)) as shop:
        url = shop.server.make_url
        assert (await shop.session.get(url("/admin/api/products"))).status == 401
        dresses = url("/admin/api/products?category=服饰/女装/连衣裙")
        listed = await (await shop.session.get(dresses, headers=AUTH)).json()
        assert listed["total"] == 5 and listed["products"][0]["spu"] == "P001"
        assert listed["products"][0]["price_fen"] == [15900, 15900]
        assert (await shop.session.get(url("/admin/api/products?category=不存在"), headers=AUTH)).status == 404

        one = await (await shop.session.get(url("/admin/api/products/P001"), headers=AUTH)).json()
        assert [s["sku"] for s in one["skus"]][:2] == ["P001-01", "P001-02"]
        assert (await shop.session.get(url("/admin/api/products/NOPE"), headers=AUTH)).status == 404

        stock = await shop.session.put(url("/admin/api/skus/P001-01/stock"), json={"stock": 3, "stock_alert": 2},
                                       headers=AUTH)  # fmt: skip
        assert stock.status == 200 and (await stock.json())["stock"] == 3
        more = await shop.session.post(url("/admin/api/skus/P001-01/restock"), json={"quantity": 7}, headers=AUTH)
        assert (await more.json())["stock"] == 10
        bad = await shop.session.put(url("/admin/api/skus/P001-01/stock"), json={"stock": -1}, headers=AUTH)
        assert bad.status == 400
        assert (await shop.session.post(url("/admin/api/skus/NOPE/restock"), json={"quantity": 1},
                                        headers=AUTH)).status == 404  # fmt: skip


async def test_csv_import_is_validated_whole(shop_config: Config) -> None:  # noqa: F811
    async with running(with_admin(shop_config)) as shop:
        url = shop.server.make_url("/admin/api/products")
        good = "数码/耳机/蓝牙耳机,PX1,降噪蓝牙耳机 Pro,PX1-01,颜色:黑色,399.00,10,2,0.05,0,,,降噪\n"
        bad = "数码/耳机/蓝牙耳机,PX2,坏价格耳机,PX2-01,颜色:白色,abc,10,2,0.05,0,,,\n"
        refused = await shop.session.post(url, data=(HEADER + good + bad).encode(), headers=AUTH)
        body = await refused.json()
        assert refused.status == 422 and any("line 3" in p for p in body["problems"])
        open_database(shop_config.database.url, shop_config.var_dir)
        assert Sku.get_or_none(Sku.code == "PX1-01") is None, "nothing of a bad file is written"

        accepted = await shop.session.post(url, data=(HEADER + good).encode(), headers=AUTH)
        assert accepted.status == 200 and "1 new" in (await accepted.json())["summary"]
        assert Sku.get(Sku.code == "PX1-01").price_fen == 39900
