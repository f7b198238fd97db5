"""Each serve process's copy of which products have stock, for the 已售罄 labels on product lists.

A list is shown on most chat turns, and reading its stock on the handler thread cost a query each time: under load
the query's release of the GIL (sqlite3 gives it up around every step) left the thread waiting behind the event
loop, which made a search several times slower than a keyword. The copy is exact for this process's own stock
writes (orders, cancellations, restocks: `inventory.local_writes` moves, the copy is dropped), cleared when the
catalog changes (`clear`, on the catalog channel), and an entry older than `max_age` is read again, which bounds
how long another process's change (the worker cancelling an unpaid order) takes to show. The label is advice: an
order takes stock with a guarded UPDATE, and a product's card reads its SKUs fresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from store.catalog import inventory
from store.catalog.products import in_stock_now

MAX_AGE = timedelta(seconds=2)
MAX_PRODUCTS = 100_000  # a bool per product: bounded even when followers wander a large catalog


class StockCache:
    def __init__(
        self,
        load: Callable[[list[int]], set[int]] = in_stock_now,
        max_age: timedelta = MAX_AGE,
        max_products: int = MAX_PRODUCTS,
    ) -> None:
        self._load, self._max_age, self._max = load, max_age, max_products
        self._entries: dict[int, tuple[datetime, bool]] = {}
        self._generation = 0
        self._writes_seen = inventory.local_writes()
        self._lock = threading.Lock()

    def in_stock(self, product_ids: Iterable[int], now: datetime) -> set[int]:
        """Which of these products have an on-sale SKU in stock, as of at most `max_age` before `now`."""
        ids = list(product_ids)
        writes = inventory.local_writes()
        if writes != self._writes_seen:
            self._drop(writes)
        entries, max_age = self._entries, self._max_age
        known: dict[int, bool] = {}
        stale: list[int] = []
        for pid in ids:
            entry = entries.get(pid)
            if entry is None or now - entry[0] >= max_age:
                stale.append(pid)
            else:
                known[pid] = entry[1]
        if stale:
            generation = self._generation
            fresh = self._load(stale)
            with self._lock:
                # A drop while we read may stand for a change our read missed: answer with it, but do not keep it.
                if generation == self._generation:
                    for pid in stale:
                        if len(entries) >= self._max and pid not in entries:
                            del entries[next(iter(entries))]  # the oldest insertion
                        entries[pid] = (now, pid in fresh)
            known.update((pid, pid in fresh) for pid in stale)
        return {pid for pid, has in known.items() if has}

    def clear(self) -> None:
        self._drop(inventory.local_writes())

    def _drop(self, writes: int) -> None:
        with self._lock:
            self._generation += 1
            self._writes_seen = writes
            self._entries.clear()
