"""The catalog: three-level categories, products (SPU) and their SKUs, and the read helpers the chat flows browse with.

Money is integer fen and commission is integer basis points (0.05 → 500), so nothing here ever holds a float.
Stock changes go through `store.catalog.inventory` (conditional updates); this module only reads it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, database, write_transaction
from store.core.hot_sql import Select

MAX_LEVELS = 3
SPEC_SEPARATOR = ";"
TAG_SEPARATOR = "|"


class Category(BaseModel):
    """Industry (level 1) → series (2) → spec level (3); `path` such as `服饰/女装/连衣裙` is the natural key."""

    name = peewee.CharField(max_length=64)
    parent = peewee.ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    level = peewee.SmallIntegerField(constraints=[peewee.Check("level BETWEEN 1 AND 3")])
    path = peewee.CharField(max_length=255, unique=True)

    def is_within(self, other: Category) -> bool:
        return self.path == other.path or self.path.startswith(other.path + "/")


class Product(BaseModel):
    """An SPU: what a product card shows. Its category may be any level."""

    code = peewee.CharField(max_length=64, unique=True)
    title = peewee.CharField(max_length=255)
    category = peewee.ForeignKeyField(Category, backref="products", on_delete="RESTRICT")
    description = peewee.TextField(default="")
    image = peewee.CharField(max_length=500, default="")
    tags = peewee.CharField(max_length=500, default="")  # joined by TAG_SEPARATOR
    on_sale = peewee.BooleanField(default=True)
    # 优先购权: until this time only members of this tier or above may buy it (chat and pay page refuse others)
    early_access_tier = peewee.CharField(max_length=16, null=True)
    early_access_until = ShanghaiDateTimeField(null=True)

    @property
    def tag_list(self) -> list[str]:
        return split_tags(self.tags)


class Sku(BaseModel):
    """One buyable variant. `spec` is normalised (`颜色:红色;尺码:M`); `attributes` parses it back."""

    code = peewee.CharField(max_length=64, unique=True)
    product = peewee.ForeignKeyField(Product, backref="skus", on_delete="CASCADE")
    spec = peewee.CharField(max_length=255, default="")
    price_fen = peewee.BigIntegerField(constraints=[peewee.Check("price_fen >= 0")])
    stock = peewee.IntegerField(default=0, constraints=[peewee.Check("stock >= 0")])
    stock_alert = peewee.IntegerField(default=0, constraints=[peewee.Check("stock_alert >= 0")])
    # True while stock is above the threshold; cleared by the decrement that crosses it (see store.catalog.inventory).
    stock_alert_armed = peewee.BooleanField(default=True)
    commission_bp = peewee.IntegerField(default=0, constraints=[peewee.Check("commission_bp BETWEEN 0 AND 10000")])
    virtual = peewee.BooleanField(default=False)
    image = peewee.CharField(max_length=500, default="")
    on_sale = peewee.BooleanField(default=True)

    @property
    def attributes(self) -> dict[str, str]:
        return parse_spec(self.spec)


class SpecError(ValueError):
    """A spec string that is not `key:value;key:value` with unique, non-empty keys and values."""


def parse_spec(text: str) -> dict[str, str]:
    """`颜色:红色;尺码:M` → {"颜色": "红色", "尺码": "M"}; full-width `：；` are accepted, order is kept."""
    text = text.replace("：", ":").replace("；", ";").strip()
    if not text:
        return {}
    attributes: dict[str, str] = {}
    for part in text.split(SPEC_SEPARATOR):
        if not part.strip():
            raise SpecError("empty attribute (stray ';')")
        key, colon, value = part.partition(":")
        key, value = key.strip(), value.strip()
        if not colon or not key or not value or ":" in value:
            raise SpecError(f"{part.strip()!r} is not key:value")
        if key in attributes:
            raise SpecError(f"attribute {key!r} given twice")
        attributes[key] = value
    return attributes


def format_spec(attributes: dict[str, str]) -> str:
    return SPEC_SEPARATOR.join(f"{k}:{v}" for k, v in attributes.items())


def split_tags(text: str) -> list[str]:
    """Tags are `|`-separated in storage; the CSV also accepts `,` `，` `、` `;`."""
    return [t.strip() for t in re.split(r"[|,，、;；]", text) if t.strip()]


def split_path(path: str) -> list[str]:
    return [p.strip() for p in path.split("/")]


# ---- browsing -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page of a product list; `number` starts at 1."""

    items: list[Product]
    number: int
    per_page: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.number * self.per_page < self.total


@dataclass(frozen=True)
class ProductView:
    product: Product
    skus: list[Sku]

    @property
    def price_range(self) -> tuple[int, int] | None:
        prices = [s.price_fen for s in self.skus if s.on_sale]
        return (min(prices), max(prices)) if prices else None

    @property
    def sold_out(self) -> bool:
        return all(s.stock == 0 for s in self.skus if s.on_sale)


def top_categories() -> list[Category]:
    return list(Category.select().where(Category.level == 1).order_by(Category.id))


def child_categories(category: Category | int) -> list[Category]:
    return list(Category.select().where(Category.parent == category).order_by(Category.id))


def category_by_path(path: str) -> Category | None:
    return Category.get_or_none(Category.path == "/".join(split_path(path)))


def _in_subtree(category: Category) -> peewee.Expression:
    return (Category.path == category.path) | Category.path.startswith(category.path + "/")


def products_in_category(category: Category, page: int = 1, per_page: int = 8, on_sale_only: bool = True) -> Page:
    """Products anywhere under `category`, in a stable order (id) so "下一页" never repeats or skips."""
    query = Product.select(Product).join(Category).where(_in_subtree(category))
    if on_sale_only:
        query = query.where(Product.on_sale == True)  # noqa: E712 - peewee expression
    total = query.count()
    items = list(query.order_by(Product.id).paginate(max(page, 1), per_page))
    return Page(items=items, number=max(page, 1), per_page=per_page, total=total)


def product_with_skus(product: Product | int | str, on_sale_only: bool = True) -> ProductView | None:
    """A product by id or code, with its SKUs in catalog order."""
    if isinstance(product, Product):
        row: Product | None = product
    elif isinstance(product, int):
        row = Product.get_or_none(Product.id == product)
    else:
        row = Product.get_or_none(Product.code == product)
    if row is None:
        return None
    skus = Sku.select().where(Sku.product == row.id)
    if on_sale_only:
        skus = skus.where(Sku.on_sale == True)  # noqa: E712
    return ProductView(product=row, skus=list(skus.order_by(Sku.id)))


def in_stock_now(product_ids: Sequence[int]) -> set[int]:
    """Which of these products have an on-sale SKU in stock now: the search index's stock is as of its last build,
    and orders, cancellations and timeouts change stock without rebuilding it."""
    if not product_ids:
        return set()
    ids = list(product_ids)
    return {product_id for (product_id,) in database.execute_sql(_in_stock_sql(len(ids)), ids)}


def _in_stock_sql(count: int) -> str:
    """The query's SQL text, rendered by peewee once per kind of database and list length (a page lists a few):
    rendering it costs several times what the database takes to run it."""
    key = (type(database.obj), count)
    sql = _IN_STOCK_SQL.get(key)
    if sql is None:
        placeholders = list(range(count))
        query = (
            Sku.select(Sku.product).distinct()
            .where(Sku.product.in_(placeholders), Sku.on_sale, Sku.stock > peewee.SQL("0"))
        )  # fmt: skip
        sql, params = query.sql()
        if list(params) != placeholders:
            raise ValueError(f"in_stock_now's query has parameters of its own: {params!r}")
        sql = _IN_STOCK_SQL.setdefault(key, sql)
    return sql


_IN_STOCK_SQL: dict[tuple[type, int], str] = {}


def price_range(product: Product | int) -> tuple[int, int] | None:
    """(lowest, highest) price in fen over the product's on-sale SKUs, or None when none is on sale."""
    low, high = (
        Sku.select(peewee.fn.MIN(Sku.price_fen), peewee.fn.MAX(Sku.price_fen))
        .where(Sku.product == product, Sku.on_sale == True)  # noqa: E712
        .tuples()
        .get()
    )
    return None if low is None else (int(low), int(high))


# ---- choosing a SKU from loose text ("红色 M") ----------------------------------------------------------------


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@lru_cache(maxsize=4096)
def _whole(value: str) -> re.Pattern[str]:
    """`value` not glued to other Latin letters or digits: "l" is not found in "xxl", "m" is in "红色m"."""
    before = r"(?<![a-z0-9])" if value[:1].isascii() and value[:1].isalnum() else ""
    after = r"(?![a-z0-9])" if value[-1:].isascii() and value[-1:].isalnum() else ""
    return re.compile(before + re.escape(value) + after)


@dataclass(frozen=True, slots=True)
class SpecChoice:
    """An on-sale SKU as a spec question needs it: no stock or price, which change with every order and are read
    fresh for the one SKU chosen (`fresh_sku`). Values are folded (NFKC, casefolded) for matching."""

    sku_id: int
    code: str
    spec: str
    folded: Mapping[str, str]


class _SpecRow(NamedTuple):
    id: int
    code: str
    spec: str


class SkuNow(NamedTuple):
    """A SKU's row as it is now, for a choice made in chat (the spec copy says which; this says whether)."""

    id: int
    code: str
    spec: str
    price_fen: int
    stock: int
    on_sale: bool
    virtual: bool


_spec_rows: Select[_SpecRow] = Select(
    lambda product_id: Sku.select(Sku.id, Sku.code, Sku.spec).where(Sku.product == product_id, Sku.on_sale)
    .order_by(Sku.id),
    _SpecRow,
)  # fmt: skip
_sku_by_id: Select[SkuNow] = Select(
    lambda sku_id: Sku.select(Sku.id, Sku.code, Sku.spec, Sku.price_fen, Sku.stock, Sku.on_sale, Sku.virtual)
    .where(Sku.id == sku_id),
    SkuNow,
)  # fmt: skip


def spec_choices(product_id: int) -> tuple[SpecChoice, ...]:
    """The product's on-sale SKUs, in SKU order, ready for `match_specs`."""
    return tuple(
        SpecChoice(s.id, s.code, s.spec, {k: _fold(v) for k, v in parse_spec(s.spec).items()})
        for s in _spec_rows(product_id)
    )


def fresh_sku(sku_id: int) -> SkuNow | None:
    """The SKU as it is now (stock, price, on-sale flag), or None when it is gone."""
    rows = _sku_by_id(sku_id)
    return rows[0] if rows else None


def match_specs(choices: Sequence[SpecChoice], text: str) -> list[SpecChoice]:
    """The choices consistent with the spec values mentioned in `text` ("红色 M", "红色m", "红 M码").

    Whole values are found first, longest first, never inside a longer Latin word ("XXL" is not "L"); words left
    over then match a value they are part of ("红" → "红色") when that is unambiguous within an attribute.
    """
    values_by_key: dict[str, set[str]] = {}
    for choice in choices:
        for k, v in choice.folded.items():
            values_by_key.setdefault(k, set()).add(v)
    rest = _fold(text)
    wanted: dict[str, set[str]] = {}
    for value, key in sorted(((v, k) for k, vs in values_by_key.items() for v in vs), key=lambda p: -len(p[0])):
        pattern = _whole(value)
        if value and pattern.search(rest):
            wanted.setdefault(key, set()).add(value)
            rest = pattern.sub(" ", rest)
    for word in re.split(r"[\s,，、/;；:+]+", rest):
        word = word.removesuffix("码") if len(word) > 1 and word.endswith("码") else word
        if not word:
            continue
        for key, values in values_by_key.items():
            partial = {v for v in values if word in v}
            if len(partial) == 1 and key not in wanted:
                wanted[key] = partial
    if not wanted:
        return []
    return [c for c in choices if all(c.folded.get(k) in vs for k, vs in wanted.items())]


def on_sale_skus(product_ids: Sequence[int]) -> dict[int, list[Sku]]:
    """The on-sale SKUs of several products, by product, in one query (a refined list checks every candidate's
    specs and prices)."""
    found: dict[int, list[Sku]] = {product_id: [] for product_id in product_ids}
    if not found:
        return found
    query = Sku.select().where(Sku.product.in_(list(found)), Sku.on_sale == True).order_by(Sku.id)  # noqa: E712
    for sku in query:
        found[sku.product_id].append(sku)
    return found


def set_early_access(product_id: int, tier: str | None, until: datetime | None) -> None:
    """优先购权: until `until` only members of `tier` or above may buy the product; `tier` None ends it."""
    with write_transaction():
        Product.update(early_access_tier=tier, early_access_until=until if tier else None).where(
            Product.id == product_id
        ).execute()
