"""The serve process's copy of SKU specs: kept until the catalog announces a change or the entry ages out, never
kept when a change was announced while it was being read, and bounded in size."""

from __future__ import annotations

from bot.process.config import Config
from store.catalog.products import Product, Sku, SpecChoice, spec_choices
from store.catalog.spec_cache import MAX_AGE, SpecCache
from store.core.clock import ManualClock
from store.core.db import open_database
from tests.test_browse_chat import shop_config  # noqa: F401 - the fixture with the test catalog imported


def dress_id(config: Config) -> int:
    open_database(config.database.url, config.var_dir)
    return Product.get(Product.code == "P001").id


def specs(choices: tuple[SpecChoice, ...]) -> list[str]:
    return [c.spec for c in choices]


def test_kept_until_cleared_or_aged_out(shop_config: Config) -> None:  # noqa: F811
    product = dress_id(shop_config)
    clock = ManualClock()
    cache = SpecCache(clock.now)
    first = cache.get(product)
    assert "颜色:红色;尺码:M" in specs(first)
    Sku.update(spec="颜色:酒红;尺码:M").where(Sku.code == "P001-02").execute()  # changed without an announcement
    assert cache.get(product) is first
    clock.advance(seconds=MAX_AGE.total_seconds() - 1)
    assert cache.get(product) is first
    clock.advance(seconds=1)
    assert "颜色:酒红;尺码:M" in specs(cache.get(product)), "read again once the entry is MAX_AGE old"
    Sku.update(spec="颜色:红色;尺码:M").where(Sku.code == "P001-02").execute()
    cache.clear()
    assert "颜色:红色;尺码:M" in specs(cache.get(product)), "read again after the catalog announced a change"


def test_a_change_announced_during_the_read_is_not_kept(shop_config: Config) -> None:  # noqa: F811
    product = dress_id(shop_config)
    reads: list[int] = []

    def read_then_announce(product_id: int) -> tuple[SpecChoice, ...]:
        reads.append(product_id)
        choices = spec_choices(product_id)
        if len(reads) == 1:
            cache.clear()  # the import committed after our query saw the old rows
        return choices

    cache = SpecCache(ManualClock().now, load=read_then_announce)
    assert cache.get(product) and cache.get(product) and cache.get(product)
    assert len(reads) == 2, "the read that raced the announcement was used once, then read again and kept"


def test_bounded(shop_config: Config) -> None:  # noqa: F811
    dress_id(shop_config)
    products = [p.id for p in Product.select().order_by(Product.id).limit(3)]
    reads: list[int] = []
    cache = SpecCache(ManualClock().now, load=lambda pid: (reads.append(pid), spec_choices(pid))[1], max_products=2)
    for product in products:
        cache.get(product)
    cache.get(products[2])
    cache.get(products[1])
    assert reads == products, "the two newest are kept"
    cache.get(products[0])
    assert reads == [*products, products[0]], "the oldest was let go"
