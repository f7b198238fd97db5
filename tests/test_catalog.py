"""Catalog models and the read helpers the browse flow uses: category levels, paging, product views, SKU by spec."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest

from bot.process.config import Config
from store.catalog.csv_import import import_file
from store.catalog.products import (
    Category,
    Product,
    Sku,
    SpecError,
    category_by_path,
    child_categories,
    format_spec,
    match_specs,
    parse_spec,
    price_range,
    product_with_skus,
    products_in_category,
    spec_choices,
    top_categories,
)
from store.core.db import open_database

CATALOG = Path(__file__).parent / "data" / "catalog.csv"


@pytest.fixture
def shop(migrated: Config) -> Config:
    open_database(migrated.database.url, migrated.var_dir)
    import_file(CATALOG)
    return migrated


def product(code: str) -> Product:
    return Product.get(Product.code == code)


def test_three_levels_with_paths_and_parents(shop: Config) -> None:
    tops = [c.name for c in top_categories()]
    assert tops[:3] == ["服饰", "数码", "美妆"]
    assert {"食品", "家居", "礼品", "虚拟商品"} <= set(tops)
    women = category_by_path("服饰 / 女装")
    assert women is not None and women.level == 2 and women.parent.name == "服饰"
    assert [c.name for c in child_categories(women)] == ["连衣裙", "T恤", "半身裙"]
    dress = category_by_path("服饰/女装/连衣裙")
    assert dress is not None and dress.level == 3 and dress.is_within(women) and not women.is_within(dress)
    assert category_by_path("服饰/女装/不存在") is None


def test_category_path_is_unique_and_level_is_checked(shop: Config) -> None:
    with pytest.raises(peewee.IntegrityError):
        Category.create(name="女装", parent=category_by_path("服饰"), level=2, path="服饰/女装")
    with pytest.raises(peewee.IntegrityError):
        Category.create(name="长款", parent=category_by_path("服饰/女装/连衣裙"), level=4, path="服饰/女装/连衣裙/长款")


def test_products_in_a_subtree_page_in_a_stable_order(shop: Config) -> None:
    clothes = category_by_path("服饰")
    assert clothes is not None
    first = products_in_category(clothes, page=1, per_page=8)
    assert first.total == 23 and first.has_next
    seen: list[str] = []
    page = 1
    while True:
        current = products_in_category(clothes, page=page, per_page=8)
        seen += [p.code for p in current.items]
        if not current.has_next:
            break
        page += 1
    assert page == 3 and len(seen) == len(set(seen)) == 23
    assert seen == sorted(seen)  # id order, which is the import order here
    dresses = products_in_category(category_by_path("服饰/女装/连衣裙"), per_page=10)
    assert [p.code for p in dresses.items] == ["P001", "P002", "P003", "P004", "P005"] and not dresses.has_next


def test_off_sale_products_are_not_listed(shop: Config) -> None:
    Product.update(on_sale=False).where(Product.code == "P002").execute()
    dresses = products_in_category(category_by_path("服饰/女装/连衣裙"), per_page=10)
    assert "P002" not in [p.code for p in dresses.items] and dresses.total == 4
    everything = products_in_category(category_by_path("服饰/女装/连衣裙"), per_page=10, on_sale_only=False)
    assert everything.total == 5


def test_product_card_data_price_range_and_virtual_goods(shop: Config) -> None:
    view = product_with_skus("P024")
    assert view is not None and view.product.title == "Apple iPhone 15 5G手机"
    assert [s.code for s in view.skus] == ["P024-01", "P024-02", "P024-03", "P024-04"]
    assert view.price_range == (599900, 899900) == price_range(view.product)
    assert view.skus[1].attributes == {"颜色": "黑色", "内存": "256GB"}
    assert view.skus[0].commission_bp == 300 and not view.skus[0].virtual
    recharge = product_with_skus(product("P057").id)
    assert recharge is not None and all(s.virtual for s in recharge.skus)
    Sku.update(on_sale=False).where(Sku.code == "P024-04").execute()
    assert price_range(product("P024")) == (599900, 699900)
    assert product_with_skus("NOPE") is None


def test_sold_out_when_every_on_sale_sku_is_empty(shop: Config) -> None:
    view = product_with_skus("P005")
    assert view is not None and not view.sold_out
    Sku.update(stock=0).where(Sku.product == view.product).execute()
    assert product_with_skus("P005").sold_out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("红色 M", "P001-02"),
        ("红色m", "P001-02"),
        ("M 红色", "P001-02"),
        ("红 L码", "P001-03"),
        ("白色", "P001-04"),  # the only white SKU
        ("ｍ　红色", "P001-02"),  # full-width input
    ],
)
def test_find_sku_by_loose_spec(shop: Config, text: str, expected: str) -> None:
    assert matched("P001", text) == [expected]


def test_ambiguous_or_unknown_spec_text_picks_nothing(shop: Config) -> None:
    assert matched("P001", "红色") == ["P001-01", "P001-02", "P001-03"]
    assert matched("P001", "绿色 XXL") == [] and matched("P001", "随便") == []
    assert matched("P009", "黑色 XL") == ["P009-03"]  # "XL" is not read as "L"
    assert matched("P009", "黑色 L") == ["P009-02"]
    assert matched("P024", "蓝色 256GB") == ["P024-03"]
    assert matched("P024", "黑色256gb") == ["P024-02"]


def test_spec_choices_skip_skus_off_sale(shop: Config) -> None:
    Sku.update(on_sale=False).where(Sku.code == "P001-02").execute()
    assert matched("P001", "红色") == ["P001-01", "P001-03"]
    assert matched("P001", "红色 M") == []


def matched(product_code: str, text: str) -> list[str]:
    return [c.code for c in match_specs(spec_choices(product(product_code).id), text)]


def test_spec_parsing_and_normalising() -> None:
    assert parse_spec("颜色：红色； 尺码: M") == {"颜色": "红色", "尺码": "M"}
    assert format_spec(parse_spec(" 颜色:红色;尺码:M ")) == "颜色:红色;尺码:M"
    assert parse_spec("") == {}
    for bad in ("颜色红色", "颜色:", ":红色", "颜色:红色;颜色:蓝色", "颜色:红色;;尺码:M", "颜色:红:色"):
        with pytest.raises(SpecError):
            parse_spec(bad)
