"""PreparedSelect: the SQL text is built once, later calls bind new arguments and return what peewee would."""

from __future__ import annotations

import pytest

from bot.process.config import Config
from store.catalog.csv_import import import_file
from store.catalog.products import Product, Sku
from store.core.prepared import PreparedSelect
from tests.test_catalog import CATALOG


def test_prepared_select_binds_new_arguments_and_refuses_hidden_parameters(migrated: Config) -> None:
    import_file(CATALOG)
    by_product = PreparedSelect(lambda pid: Sku.select().where(Sku.product == pid).order_by(Sku.id))
    for code in ("P001", "P002", "P009"):
        product = Product.get(Product.code == code)
        expected = [s.code for s in Sku.select().where(Sku.product == product).order_by(Sku.id)]
        assert [s.code for s in by_product(product.id)] == expected and expected

    hidden = PreparedSelect(lambda pid: Sku.select().where(Sku.product == pid, Sku.on_sale == True))  # noqa: E712
    with pytest.raises(ValueError, match="not the query's parameters"):
        hidden(1)
