"""Search in Chinese over the test catalog: expected top results, price phrases, sold-out ordering, suggestions."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from bot.process.config import Config
from store.catalog.csv_import import import_file
from store.catalog.products import Product, Sku
from store.core.db import open_database
from store.search.index import SearchIndex, SearchResult, SearchService
from store.search.text import PriceFilter, normalise, parse_price, query_tokens

CATALOG = Path(__file__).parent / "data" / "catalog.csv"


@pytest.fixture
def index(migrated: Config) -> SearchIndex:
    open_database(migrated.database.url, migrated.var_dir)
    import_file(CATALOG)
    return SearchIndex.build()


def codes(result: SearchResult) -> list[str]:
    by_id = dict(Product.select(Product.id, Product.code).tuples())
    return [by_id[h.product_id] for h in result.hits]


def sku_code(sku_id: int) -> str:
    return Sku.get_by_id(sku_id).code


@pytest.mark.parametrize(
    ("query", "top"),
    [
        ("华为手机", ["P026"]),
        ("蓝牙耳机 降噪", ["P028", "P029"]),
        ("男士纯棉T恤", ["P009"]),
        ("龙井", ["P044"]),
        ("话费充值", ["P057"]),
        ("跑步鞋 男", ["P021"]),
        ("300以上的口红", ["P041"]),
        ("两百以内的口红", ["P042", "P043"]),
        ("送爸爸的礼物", ["P044", "P056"]),
        ("充电宝", ["P034", "P035"]),
        ("鞋子", ["P023"]),
        ("小米充电宝", ["P035"]),
        ("polo衫", ["P012"]),
        ("T恤 男", ["P009", "P010", "P012", "P011"]),
    ],
)
def test_realistic_searches_put_the_expected_products_first(index: SearchIndex, query: str, top: list[str]) -> None:
    result = index.search(query)
    assert codes(result)[: len(top)] == top, (query, codes(result))


def test_red_dress_under_200_shows_the_red_sku_and_sold_out_last(index: SearchIndex) -> None:
    result = index.search("200以内的红色连衣裙")
    assert result.price == PriceFilter(max_fen=20000) and result.terms == ("红色", "连衣裙")
    assert codes(result)[:2] == ["P001", "P005"]  # then products with one of the two words
    first, sold_out = result.hits[:2]
    assert [h.coverage for h in result.hits] == [2, 2] + [1] * (len(result.hits) - 2)
    assert "颜色:红色" in first.spec and first.price_fen == 15900 and first.in_stock
    assert sku_code(sold_out.sku_id) == "P005-01" and not sold_out.in_stock  # red P005 is sold out: shown, last


def test_iphone_256g_picks_the_256gb_sku(index: SearchIndex) -> None:
    for query in ("iphone 256g", "iPhone 256GB", "ＩＰｈｏｎｅ　２５６Ｇ", "苹果手机 256g"):
        result = index.search(query)
        assert codes(result)[:2] == ["P024", "P025"], query
        assert sku_code(result.hits[0].sku_id) == "P024-02" and result.hits[0].price_fen == 699900


def test_gift_for_mum_uses_tags(index: SearchIndex) -> None:
    result = index.search("送妈妈的礼物")
    assert codes(result)[0] == "P054"
    assert set(codes(result)[:4]) == {"P054", "P037", "P052", "P056"}  # both words; gifts for anyone after
    assert all(h.coverage == 1 for h in result.hits[4:])


def test_t_shirts_between_100_and_300(index: SearchIndex) -> None:
    for query in ("100到300的T恤", "100-300元的t恤", "价格100~300 体恤"):
        result = index.search(query)
        assert result.price == PriceFilter(min_fen=10000, max_fen=30000), query
        assert set(codes(result)) == {"P008", "P010", "P011", "P012"}, query
        assert all(10000 <= h.price_fen <= 30000 for h in result.hits)


def test_cheap_earphones_cheapest_first_and_the_cheaper_half(index: SearchIndex) -> None:
    result = index.search("便宜点的耳机")
    assert result.price.cheap and codes(result) == ["P033", "P031", "P030"]
    assert [h.price_fen for h in result.hits] == [3900, 6900, 12900]
    assert codes(index.search("便宜的耳机 100以上")) == ["P030", "P029"]  # an explicit bound keeps everything in it


def test_a_price_alone_lists_everything_in_range_cheapest_first(index: SearchIndex) -> None:
    result = index.search("20元以内的")
    assert result.terms == () and [h.price_fen for h in result.hits] == [1990]
    everything = index.search("200以内", limit=100)
    prices = [h.price_fen for h in everything.hits]
    assert everything.total == len(prices) > 30 and prices == sorted(prices) and max(prices) <= 20000


def test_pages_do_not_overlap(index: SearchIndex) -> None:
    first, second = index.search("T恤", limit=4), index.search("T恤", limit=4, offset=4)
    assert first.total == second.total == 7
    assert len(first.hits) == 4 and len(second.hits) == 3
    assert not {h.product_id for h in first.hits} & {h.product_id for h in second.hits}


def test_partial_matches_when_no_product_has_every_word(index: SearchIndex) -> None:
    result = index.search("华为 口红")  # no Huawei lipstick: the products matching one word, best first
    assert result.hits and all(h.coverage == 1 for h in result.hits)
    assert {"P026", "P029", "P041"} <= set(codes(result))


def test_nothing_found_suggests_nearby_categories(index: SearchIndex) -> None:
    drone = index.search("无人机")
    assert drone.hits == () and drone.total == 0 and drone.unmatched == ("无人机",)
    assert drone.suggestions[0].path == "数码/手机/智能手机"  # shares 机 and is a leaf
    assert all(s.path.startswith("数码/") for s in drone.suggestions)
    pants = index.search("裤子")
    assert pants.hits == () and pants.suggestions  # no trousers in the shop: the top level is offered
    dear = index.search("5000以上的连衣裙")
    assert dear.hits == () and dear.suggestions[0].path == "服饰/女装/连衣裙"
    assert index.search("").hits == () and index.search("的了吗").suggestions


def test_off_sale_goods_disappear_after_a_rebuild(index: SearchIndex) -> None:
    service = SearchService(index)
    Product.update(on_sale=False).where(Product.code == "P026").execute()
    Sku.update(on_sale=False).where(Sku.code == "P024-02").execute()
    assert codes(service.search("华为手机"))[0] == "P026"  # the old index until rebuilt
    old = service.index
    service.rebuild()
    assert service.index is not old and codes(old.search("华为手机"))[0] == "P026"
    assert "P026" not in codes(service.search("华为手机"))  # now only partial matches: other phones, Huawei buds
    assert sku_code(service.search("iphone 256g").hits[0].sku_id) == "P024-03"


def test_concurrent_searches_agree(index: SearchIndex) -> None:
    queries = ["200以内的红色连衣裙", "iphone 256g", "送妈妈的礼物", "便宜点的耳机", "无人机"] * 10
    expected = {q: index.search(q) for q in set(queries)}
    mismatches: list[str] = []

    def run() -> None:
        for q in queries:
            if index.search(q) != expected[q]:
                mismatches.append(q)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mismatches == []


@pytest.mark.parametrize(
    ("text", "low", "high", "cheap", "rest"),
    [
        ("200以内的红色连衣裙", None, 20000, False, ["红色", "连衣裙"]),
        ("200元以下的鞋", None, 20000, False, ["鞋"]),
        ("低于200的鞋", None, 19999, False, ["鞋"]),
        ("不超过99.5元的耳机", None, 9950, False, ["耳机"]),
        ("100到300的T恤", 10000, 30000, False, ["t恤"]),
        ("300到100的T恤", 10000, 30000, False, ["t恤"]),
        ("100-300元 卫衣", 10000, 30000, False, ["卫衣"]),
        ("300以上的羽绒服", 30000, None, False, ["羽绒服"]),
        ("超过300的羽绒服", 30001, None, False, ["羽绒服"]),
        ("两百以内的口红", None, 20000, False, ["口红"]),
        ("1千以下的手机", None, 100000, False, ["手机"]),
        ("5千到1万的手机", 500000, 1000000, False, ["手机"]),
        ("200元左右的茶叶", 16000, 24000, False, ["茶叶"]),
        ("便宜点的耳机", None, None, True, ["耳机"]),
        ("iphone 256g", None, None, False, ["iphone", "256gb"]),
        ("iphone 15-16", None, None, False, ["iphone", "15", "16"]),
        ("2-3岁的童装", None, None, False, ["2", "3", "岁", "童装"]),
        ("3件以上的袜子", None, None, False, ["3", "件", "以上", "袜子"]),
        ("200内衣", None, None, False, ["200", "内衣"]),
    ],
)
def test_price_phrases(text: str, low: int | None, high: int | None, cheap: bool, rest: list[str]) -> None:
    price, left = parse_price(normalise(text))
    assert (price.min_fen, price.max_fen, price.cheap) == (low, high, cheap)
    assert query_tokens(left) == rest


@pytest.mark.parametrize(
    "text",
    [
        *("红色连衣裙", "蓝牙耳机", "200以内的连衣裙", "手机"),  # products
        *("今天天气怎么样", "质量怎么样", "我的积分", "量子纠缠", "这个怎么用", "红色连衣裙天气怎么样"),  # chat
        *("200以内的", ""),  # a price alone, nothing
    ],
)
def test_named_products_is_the_confident_search_without_explanations(index: SearchIndex, text: str) -> None:
    """The chat's shortcut ("does this text name products?") answers as the full search would, with the same
    page when it does; chat searches leave out why each hit matched, and nothing else."""
    full = index.search(text, limit=8)
    named = index.named_products(text, limit=8)
    assert (named is not None) == full.confident
    plain = index.search(text, limit=8, explain=False)
    assert plain.hits == tuple(replace(h, matches=()) for h in full.hits)
    assert replace(plain, hits=()) == replace(full, hits=())
    if named is not None:
        assert named == plain and any(h.matches for h in full.hits)
