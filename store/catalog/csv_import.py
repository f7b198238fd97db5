"""Applying a validated catalog file: an upsert by SKU code, in one transaction, in multi-row batches.

Row-by-row ORM saves would take minutes for 100,000 rows; `insert_many(...).on_conflict(...)` in batches of
~1,000 rows does it in seconds on SQLite and PostgreSQL alike. Stock in the file is an absolute count set by the
operator, so it re-arms or disarms the stock alert to match without recording an alert.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import peewee

from store.bargain.models import BargainOffer
from store.catalog.csv_format import CatalogRow, read_catalog
from store.catalog.products import Category, Product, Sku, split_path
from store.core.db import database, write_transaction
from store.group_buy.models import GroupOffer

Progress = Callable[[int, int], None]
T = TypeVar("T")
BATCH = 1000
LOOKUP_BATCH = 900
GROUP_DEFAULTS = (3, 48)  # a 拼团 offer's size and window when the file leaves them empty and the caller says nothing


@dataclass(frozen=True)
class ImportReport:
    rows: int
    categories_created: int
    products_created: int
    products_updated: int
    skus_created: int
    skus_updated: int
    seconds: float

    def summary(self) -> str:
        return (
            f"imported {self.rows} rows: {self.skus_created} new and {self.skus_updated} updated SKUs, "
            f"{self.products_created} new and {self.products_updated} updated products, "
            f"{self.categories_created} new categories in {self.seconds:.2f} s"
        )


def import_file(
    path: Path, progress: Progress | None = None, group_defaults: tuple[int, int] = GROUP_DEFAULTS
) -> ImportReport:
    """Read, validate (raising `CatalogFileError` before any write) and apply a catalog CSV file; the report's
    time covers all of it."""
    started = time.perf_counter()
    with path.open(encoding="utf-8-sig", newline="") as stream:
        rows = read_catalog(stream)
    return dataclasses.replace(import_rows(rows, progress, group_defaults), seconds=time.perf_counter() - started)


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _ids(model: type[peewee.Model], key: peewee.Field, values: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(values, LOOKUP_BATCH):
        found.update(model.select(key, model._meta.primary_key).where(key.in_(list(chunk))).tuples())
    return found


def import_rows(
    rows: Sequence[CatalogRow], progress: Progress | None = None, group_defaults: tuple[int, int] = GROUP_DEFAULTS,
    now: datetime | None = None,
) -> ImportReport:
    """Upsert validated rows in one transaction; `progress(done, total)` is called after each SKU batch.
    `group_defaults` (size, window hours: `[marketing]`) fill a group offer's empty `group_size` /
    `group_window_hours`."""
    started = time.perf_counter()
    with write_transaction():
        categories, categories_created = _upsert_categories(r.category for r in rows)
        products, products_created = _upsert_products(rows, categories)
        skus_created = _upsert_skus(rows, products, progress)
        _upsert_group_offers(rows, group_defaults, now)
        _upsert_bargain_offers(rows, now)
    return ImportReport(
        rows=len(rows),
        categories_created=categories_created,
        products_created=products_created,
        products_updated=len(products) - products_created,
        skus_created=skus_created,
        skus_updated=len(rows) - skus_created,
        seconds=time.perf_counter() - started,
    )


def _upsert_group_offers(rows: Sequence[CatalogRow], defaults: tuple[int, int], now: datetime | None) -> None:
    """Lines with a `group_price` create or replace their SKU's 拼团 offer (and make it active); lines without one
    leave an existing offer as it is (the admin API switches offers off)."""
    offered = [r for r in rows if r.group_price_fen is not None]
    if not offered:
        return
    ids = _ids(Sku, Sku.code, [r.sku for r in offered])
    for row in offered:
        fields = dict(
            size=row.group_size or defaults[0], window_hours=row.group_window_hours or defaults[1],
            price_fen=row.group_price_fen, limit_per_follower=row.group_limit, active=True, updated_at=now,
        )  # fmt: skip
        if not GroupOffer.update(**fields).where(GroupOffer.sku_id == ids[row.sku]).execute():
            GroupOffer.create(sku_id=ids[row.sku], **fields)


def _upsert_bargain_offers(rows: Sequence[CatalogRow], now: datetime | None) -> None:
    """Lines with the 砍价 columns create or replace their SKU's bargain offer (active, one per follower); lines
    without leave an existing offer as it is. Bargains already started keep their terms."""
    offered = [r for r in rows if r.bargain_floor_fen is not None]
    if not offered:
        return
    ids = _ids(Sku, Sku.code, [r.sku for r in offered])
    for row in offered:
        fields = dict(floor_fen=row.bargain_floor_fen, helpers=row.bargain_helpers,
                      window_hours=row.bargain_window_hours, active=True, updated_at=now)  # fmt: skip
        if not BargainOffer.update(**fields).where(BargainOffer.sku_id == ids[row.sku]).execute():
            BargainOffer.create(sku_id=ids[row.sku], **fields)


def _bulk_upsert(
    build: Callable[[Sequence[tuple]], peewee.Insert],
    values: Sequence[tuple],
    after_batch: Callable[[int], object] | None = None,
) -> None:
    """Run `build(chunk)` for every batch, generating its SQL only once per batch size.

    peewee turns every value of a multi-row INSERT into an expression node; for 100,000 rows that, not the
    database, took most of the import. The first batch's SQL is kept and later batches of the same size only
    supply parameters — after checking that peewee's own parameters are exactly the row values in order.
    """
    statements: dict[int, str] = {}
    done = 0
    for chunk in _chunks(values, BATCH):
        sql = statements.get(len(chunk))
        flat = [v for row in chunk for v in row]
        if sql is None:
            sql, params = build(chunk).sql()
            if list(params) == flat:
                statements[len(chunk)] = sql
            flat = list(params)
        database.execute_sql(sql, flat)
        done += len(chunk)
        if after_batch is not None:
            after_batch(done)


def _upsert_categories(paths: Iterable[str]) -> tuple[dict[str, int], int]:
    """Create every missing level, parents first, in the order the file first names them (that order is the
    browse menu's); return {path: id} and how many were created."""
    wanted: dict[str, None] = {}
    for path in paths:
        parts = split_path(path)
        wanted.update(dict.fromkeys("/".join(parts[: i + 1]) for i in range(len(parts))))
    ids = _ids(Category, Category.path, list(wanted))
    created = 0
    for level in (1, 2, 3):
        missing = [p for p in wanted if p not in ids and p.count("/") == level - 1]
        if not missing:
            continue
        rows = []
        for path in missing:
            parent, _, name = path.rpartition("/")
            rows.append({"name": name, "parent": ids.get(parent), "level": level, "path": path})
        for chunk in _chunks(rows, BATCH):
            Category.insert_many(chunk).on_conflict_ignore().execute()
        ids.update(_ids(Category, Category.path, missing))
        created += len(missing)
    return ids, created


def _upsert_products(rows: Sequence[CatalogRow], categories: dict[str, int]) -> tuple[dict[str, int], int]:
    first: dict[str, CatalogRow] = {}
    for row in rows:
        first.setdefault(row.spu, row)
    codes = list(first)
    existing = _ids(Product, Product.code, codes)
    preserve = [Product.title, Product.category, Product.description, Product.image, Product.tags]
    fields = [Product.code, *preserve, Product.on_sale]  # on_sale only for new products: operators own it
    values = [(r.spu, r.title, categories[r.category], r.description, r.image, r.tags, True) for r in first.values()]
    _bulk_upsert(
        lambda chunk: Product.insert_many(chunk, fields=fields).on_conflict(
            conflict_target=[Product.code], preserve=preserve
        ),
        values,
    )
    return _ids(Product, Product.code, codes), len(codes) - len(existing)


def _upsert_skus(rows: Sequence[CatalogRow], products: dict[str, int], progress: Progress | None) -> int:
    existing = _ids(Sku, Sku.code, [r.sku for r in rows])
    preserve = [
        Sku.product,
        Sku.spec,
        Sku.price_fen,
        Sku.stock,
        Sku.stock_alert,
        Sku.stock_alert_armed,
        Sku.commission_bp,
        Sku.virtual,
        Sku.image,
    ]
    fields = [Sku.code, *preserve, Sku.on_sale]

    def query(chunk: Sequence[tuple]) -> peewee.Insert:
        return Sku.insert_many(chunk, fields=fields).on_conflict(conflict_target=[Sku.code], preserve=preserve)

    values = [
        (
            r.sku,
            products[r.spu],
            r.spec,
            r.price_fen,
            r.stock,
            r.stock_alert,
            r.stock > r.stock_alert,
            r.commission_bp,
            r.virtual,
            r.image,
            True,
        )
        for r in rows
    ]
    _bulk_upsert(query, values, lambda done: progress(done, len(rows)) if progress else None)
    return len(rows) - len(existing)
