"""Stock: guarded decrements that never go negative, restocks, and one restock alert per threshold crossing.

A SKU carries `stock_alert_armed`, true while its stock is above `stock_alert`. The decrement that takes stock to
or below the threshold clears the flag with a conditional UPDATE (`... WHERE armed AND stock <= stock_alert`) in
the same transaction; only the transaction whose UPDATE changed a row records the `StockAlert`. Both backends
serialise writers on the row (the guarded decrement locks it on PostgreSQL, which re-checks the WHERE of a
waiting UPDATE once the lock is free; SQLite has one writer), so concurrent orders produce exactly one alert per
crossing. A restock or release that lifts stock above the threshold re-arms.
Delivery to operators happens later, through the outbox; this module only records and lists alerts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime

import peewee

from store.catalog.products import Sku
from store.core.db import BaseModel, ShanghaiDateTimeField, write_transaction

_writes = itertools.count(1)
_last_write = 0


def local_writes() -> int:
    """How many stock writes this process has made: a copy of stock (`stock_cache`) is stale when it moves."""
    return _last_write


def _wrote() -> None:
    global _last_write
    _last_write = next(_writes)  # next() on a count is atomic under the GIL: no two writes share a number


class StockAlert(BaseModel):
    sku = peewee.ForeignKeyField(Sku, backref="stock_alerts", on_delete="CASCADE")
    stock_at_alert = peewee.IntegerField()
    threshold = peewee.IntegerField()
    created_at = ShanghaiDateTimeField()
    delivered_at = ShanghaiDateTimeField(null=True, index=True)


class UnknownSku(LookupError):
    """The SKU id does not exist."""


def _positive(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"quantity must be a positive integer, got {n!r}")


def _disarm_if_crossed(sku_id: int, now: datetime) -> StockAlert | None:
    """Inside the decrement's transaction: record the alert if this change is the one that crossed."""
    crossed = (
        Sku.update(stock_alert_armed=False)
        .where(Sku.id == sku_id, Sku.stock_alert_armed == True, Sku.stock <= Sku.stock_alert)  # noqa: E712
        .execute()
    )
    if not crossed:
        return None
    stock, threshold = Sku.select(Sku.stock, Sku.stock_alert).where(Sku.id == sku_id).tuples().get()
    return StockAlert.create(sku=sku_id, stock_at_alert=stock, threshold=threshold, created_at=now)


def take_stock(sku_id: int, quantity: int, now: datetime) -> bool:
    """Remove `quantity` units if that many are left; False (nothing changed) otherwise."""
    return take_many([(sku_id, quantity)], now)


def take_many(lines: Iterable[tuple[int, int]], now: datetime) -> bool:
    """All-or-nothing decrement for an order's lines: every line is taken or none is.

    Rows are locked in SKU-id order so two orders over the same SKUs cannot deadlock on PostgreSQL.
    """
    wanted: dict[int, int] = {}
    for sku_id, quantity in lines:
        _positive(quantity)
        wanted[sku_id] = wanted.get(sku_id, 0) + quantity
    if not wanted:
        return True
    try:
        with write_transaction():
            for sku_id in sorted(wanted):
                n = wanted[sku_id]
                if not Sku.update(stock=Sku.stock - n).where(Sku.id == sku_id, Sku.stock >= n).execute():
                    raise _Short()
                _disarm_if_crossed(sku_id, now)
    except _Short:
        return False
    finally:
        _wrote()
    return True


class _Short(Exception):
    """Internal: one line could not be taken; unwinds the transaction."""


def _raise_stock(sku_id: int, quantity: int) -> None:
    """Add units, and re-arm the alert when the new stock is above the threshold again (one UPDATE)."""
    new_stock = Sku.stock + quantity
    query = Sku.update(
        stock=new_stock,
        stock_alert_armed=peewee.Case(None, [(new_stock > Sku.stock_alert, True)], Sku.stock_alert_armed),
    ).where(Sku.id == sku_id)
    with write_transaction():
        rows = query.execute()
    _wrote()
    if not rows:
        raise UnknownSku(sku_id)


def restock(sku_id: int, quantity: int) -> None:
    """Operator adds units."""
    _positive(quantity)
    _raise_stock(sku_id, quantity)


def release_stock(sku_id: int, quantity: int) -> None:
    """Units come back (an unpaid order cancelled, a return): same arithmetic as a restock."""
    _positive(quantity)
    _raise_stock(sku_id, quantity)


def set_stock(sku_id: int, stock: int, stock_alert: int | None = None) -> None:
    """Operator sets an absolute count (a stocktake). The alert is re-armed or disarmed to match, without an
    alert of its own: the operator is looking at the number they typed."""
    if stock < 0 or (stock_alert is not None and stock_alert < 0):
        raise ValueError("stock and stock_alert must be >= 0")
    threshold = Sku.stock_alert if stock_alert is None else stock_alert
    fields: dict[peewee.Field, object] = {Sku.stock: stock, Sku.stock_alert_armed: peewee.Value(stock) > threshold}
    if stock_alert is not None:
        fields[Sku.stock_alert] = stock_alert
    with write_transaction():
        rows = Sku.update(fields).where(Sku.id == sku_id).execute()
    _wrote()
    if not rows:
        raise UnknownSku(sku_id)


def stock_of(sku_id: int) -> int:
    stock = Sku.select(Sku.stock).where(Sku.id == sku_id).scalar()
    if stock is None:
        raise UnknownSku(sku_id)
    return int(stock)


def pending_alerts(limit: int = 100) -> list[StockAlert]:
    """Alerts not yet handed to operators, oldest first (the outbox picks them up)."""
    query = StockAlert.select(StockAlert, Sku).join(Sku).where(StockAlert.delivered_at.is_null())
    return list(query.order_by(StockAlert.id).limit(limit))


def mark_alert_delivered(alert_id: int, now: datetime) -> bool:
    """True for the one caller that marks it; a second call (a retried job) changes nothing."""
    query = StockAlert.update(delivered_at=now).where(StockAlert.id == alert_id, StockAlert.delivered_at.is_null())
    with write_transaction():
        return query.execute() == 1
