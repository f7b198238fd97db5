"""Select: the SQL text is built once, later calls bind new arguments and return what peewee would, as tuples."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from bot.process.config import Config
from store.catalog.csv_import import import_file
from store.catalog.products import Product, Sku, fresh_sku
from store.core.hot_sql import Select
from tests.test_catalog import CATALOG


class _Row(NamedTuple):
    code: str
    on_sale: bool
    stock: int


def test_select_binds_new_arguments_converts_values_and_refuses_hidden_parameters(migrated: Config) -> None:
    import_file(CATALOG)
    by_product = Select(
        lambda pid: Sku.select(Sku.code, Sku.on_sale, Sku.stock).where(Sku.product == pid).order_by(Sku.id), _Row
    )
    for code in ("P001", "P002", "P009"):
        product = Product.get(Product.code == code)
        expected = [(s.code, s.on_sale, s.stock) for s in Sku.select().where(Sku.product == product).order_by(Sku.id)]
        rows = by_product(product.id)
        assert rows == expected and expected
        assert all(type(row.on_sale) is bool for row in rows)  # SQLite stores 0/1: the field's conversion ran

    hidden = Select(lambda pid: Sku.select(Sku.code, Sku.on_sale, Sku.stock).where(Sku.product == pid, Sku.on_sale == True), _Row)  # noqa: E501, E712
    with pytest.raises(ValueError, match="not the query's parameters"):
        hidden(1)
    too_wide = Select(lambda pid: Sku.select().where(Sku.product == pid), _Row)
    with pytest.raises(ValueError, match="select exactly the fields"):
        too_wide(1)


def test_fresh_sku_reads_the_row_as_it_is_now(migrated: Config) -> None:
    import_file(CATALOG)
    sku = Sku.select().order_by(Sku.id).first()
    Sku.update(stock=0, on_sale=False).where(Sku.id == sku.id).execute()
    now = fresh_sku(sku.id)
    assert now is not None and (now.id, now.code, now.stock, now.on_sale) == (sku.id, sku.code, 0, False)
    assert now.price_fen == sku.price_fen and now.virtual is bool(sku.virtual)
    assert fresh_sku(10**9) is None
