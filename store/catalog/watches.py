"""到货提醒 / 降价提醒: a follower watches a product (or one SKU of it) for a restock or a price drop, and is told
once through the outbox when it happens.

A watch is one row per (follower, product, kind). `baseline_fen` is the price the follower saw when they asked
(the SKU's, or the product's lowest on-sale price). The sweep (`notify_due`) finds the watches whose condition
holds now — a restock watch whose SKU (any SKU, without one) is on sale with stock, a price watch whose current
price is below the baseline — and for each, in one transaction, stamps `notified_at` with a conditional UPDATE and
queues the notice, so a watch is told exactly once however many sweeps race. A follower is told at most
`per_day` times a Shanghai day; the rest wait for the next day. Asking again after a notice watches afresh.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import peewee

from store.catalog.products import Product, Sku
from store.core.db import BaseModel, ShanghaiDateTimeField, write_transaction
from store.outbox.kinds import Priority, format_fen, format_time, shanghai_day_start
from store.outbox.notices import enqueue_notice
from store.outbox.template_lint import thing_value

RESTOCK, PRICE_DROP = "restock", "price_drop"
KIND_LABELS = {RESTOCK: "到货提醒", PRICE_DROP: "降价提醒"}
NOTICE_KIND = "product_alert"


class ProductWatch(BaseModel):
    openid = peewee.CharField(max_length=64)
    product = peewee.ForeignKeyField(Product, on_delete="CASCADE")
    sku_id = peewee.IntegerField(null=True)  # a restock watch on one SKU; None: any SKU of the product
    kind = peewee.CharField(max_length=16)
    baseline_fen = peewee.BigIntegerField()
    created_at = ShanghaiDateTimeField()
    notified_at = ShanghaiDateTimeField(null=True)

    class Meta:
        indexes = (
            (("openid", "product", "kind"), True),
            (("notified_at", "kind"), False),
        )


@dataclass(frozen=True)
class Watched:
    """One active watch as the chat lists it."""

    product_id: int
    title: str
    kind: str
    spec: str
    baseline_fen: int

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]


class AlreadyWatching(Exception):
    """The follower watches this already (and has not been told yet)."""


class InStock(Exception):
    """A restock watch on something that is in stock: there is nothing to wait for."""


def watch(openid: str, product_id: int, kind: str, now: datetime, sku_id: int | None = None) -> ProductWatch:
    """Start (or restart, after a notice) a watch; `AlreadyWatching`, or `InStock` for a restock watch on stock."""
    if kind not in KIND_LABELS:
        raise ValueError(f"unknown watch kind {kind!r}")
    if kind == RESTOCK and _in_stock(product_id, sku_id):
        raise InStock()
    baseline = _price(product_id, sku_id)
    with write_transaction():
        existing = ProductWatch.get_or_none(
            ProductWatch.openid == openid, ProductWatch.product == product_id, ProductWatch.kind == kind
        )
        if existing is not None and existing.notified_at is None:
            raise AlreadyWatching()
        fields = dict(sku_id=sku_id, baseline_fen=baseline or 0, created_at=now, notified_at=None)
        if existing is not None:
            ProductWatch.update(**fields).where(ProductWatch.id == existing.id).execute()
            return ProductWatch.get_by_id(existing.id)
        try:
            with write_transaction():
                return ProductWatch.create(openid=openid, product=product_id, kind=kind, **fields)
        except peewee.IntegrityError:  # a second message of the same follower won
            raise AlreadyWatching() from None


def unwatch(openid: str, product_id: int | None = None) -> int:
    """"取消提醒": the follower's waiting watches (of one product, or all); how many were dropped."""
    query = ProductWatch.delete().where(ProductWatch.openid == openid, ProductWatch.notified_at.is_null())
    if product_id is not None:
        query = query.where(ProductWatch.product == product_id)
    with write_transaction():
        return query.execute()


def watches_of(openid: str) -> list[Watched]:
    """"我的提醒": the follower's waiting watches, oldest first."""
    rows = (
        ProductWatch.select(ProductWatch, Product)
        .join(Product)
        .where(ProductWatch.openid == openid, ProductWatch.notified_at.is_null())
        .order_by(ProductWatch.created_at, ProductWatch.id)
    )
    specs = {s.id: s.spec for s in Sku.select(Sku.id, Sku.spec).where(Sku.id.in_([r.sku_id for r in rows if r.sku_id]))}
    return [
        Watched(r.product.id, r.product.title, r.kind, _spec_label(specs.get(r.sku_id, "")), r.baseline_fen)
        for r in rows
    ]


def notify_due(now: datetime, per_day: int, limit: int = 500) -> int:
    """Queue one notice for each watch whose moment came, at most `per_day` per follower a day; returns how many."""
    waiting = list(
        ProductWatch.select(ProductWatch, Product)
        .join(Product)
        .where(ProductWatch.notified_at.is_null(), Product.on_sale == True, _moment_came())  # noqa: E712
        .order_by(ProductWatch.created_at, ProductWatch.id)
        .limit(limit)
    )
    told_today = _told_since(shanghai_day_start(now), {w.openid for w in waiting})
    queued = 0
    for w in waiting:
        if told_today[w.openid] >= per_day:
            continue
        fields = _due_fields(w, now)
        if fields is None:
            continue
        with write_transaction():
            claimed = (
                ProductWatch.update(notified_at=now)
                .where(ProductWatch.id == w.id, ProductWatch.notified_at.is_null())
                .execute()
            )
            if not claimed:
                continue
            enqueue_notice(w.openid, NOTICE_KIND, fields, Priority.MEMBER_CARE, now)
        told_today[w.openid] += 1
        queued += 1
    return queued


def _moment_came() -> peewee.Expression:
    """In SQL, so waiting watches whose moment has not come never crowd out those whose has: a restock watch with
    its SKU (any SKU) on sale and in stock, a price watch with an on-sale SKU cheaper than the watched price."""
    on_sale = Sku.select(Sku.id).where(Sku.product == ProductWatch.product, Sku.on_sale == True)  # noqa: E712
    in_stock = on_sale.where(Sku.stock > 0, ProductWatch.sku_id.is_null() | (Sku.id == ProductWatch.sku_id))
    cheaper = on_sale.where(Sku.price_fen < ProductWatch.baseline_fen)
    return ((ProductWatch.kind == RESTOCK) & peewee.fn.EXISTS(in_stock)) | (
        (ProductWatch.kind == PRICE_DROP) & peewee.fn.EXISTS(cheaper)
    )


def _due_fields(w: ProductWatch, now: datetime) -> dict[str, str] | None:
    if w.kind == RESTOCK:
        if not _in_stock(w.product.id, w.sku_id):
            return None
        status, price = "已到货", _price(w.product.id, w.sku_id)
    else:
        price = _price(w.product.id, None)
        if price is None or price >= w.baseline_fen:
            return None
        status = "已降价"
    goods = thing_value(w.product.title, "您关注的商品")
    return {"goods": goods, "status": status, "price": format_fen(price or 0), "at": format_time(now)}


def _told_since(start: datetime, openids: set[str]) -> Counter[str]:
    if not openids:
        return Counter()
    rows = (
        ProductWatch.select(ProductWatch.openid, peewee.fn.COUNT(ProductWatch.id))
        .where(ProductWatch.openid.in_(list(openids)), ProductWatch.notified_at >= start)
        .group_by(ProductWatch.openid)
        .tuples()
    )
    return Counter({openid: int(count) for openid, count in rows})


def _skus(product_id: int, sku_id: int | None) -> peewee.ModelSelect:
    query = Sku.select().where(Sku.product == product_id, Sku.on_sale == True)  # noqa: E712
    return query.where(Sku.id == sku_id) if sku_id is not None else query


def _in_stock(product_id: int, sku_id: int | None) -> bool:
    return _skus(product_id, sku_id).where(Sku.stock > 0).exists()


def _price(product_id: int, sku_id: int | None) -> int | None:
    value = _skus(product_id, sku_id).select(peewee.fn.MIN(Sku.price_fen)).scalar()
    return int(value) if value is not None else None


def _spec_label(spec: str) -> str:
    return " ".join(part.split(":", 1)[-1] for part in spec.split(";") if part)
