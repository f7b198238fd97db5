"""Each serve process's copy of products' SKU specs, so a spec question in chat ("红色") needs no query.

Specs change only through catalog imports and admin edits, which announce on the catalog channel; the process
clears this copy then (`clear`), and an entry older than `max_age` is read again in case an announcement was
missed while the watcher reconnected. Stock and prices are not here: the one SKU chosen is read fresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from store.catalog.products import SpecChoice, spec_choices

MAX_AGE = timedelta(seconds=30)
MAX_PRODUCTS = 20_000  # ≈ 1 KB each: a bounded copy even when followers wander the whole catalog


class SpecCache:
    def __init__(
        self,
        now: Callable[[], datetime],
        load: Callable[[int], tuple[SpecChoice, ...]] = spec_choices,
        max_age: timedelta = MAX_AGE,
        max_products: int = MAX_PRODUCTS,
    ) -> None:
        self._now, self._load, self._max_age, self._max = now, load, max_age, max_products
        self._entries: dict[int, tuple[datetime, tuple[SpecChoice, ...]]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, product_id: int) -> tuple[SpecChoice, ...]:
        now = self._now()
        entry = self._entries.get(product_id)
        if entry is not None and now - entry[0] < self._max_age:
            return entry[1]
        generation = self._generation
        choices = self._load(product_id)
        with self._lock:
            # A clear while we read may have announced a change our read missed: use it, but do not keep it.
            if generation == self._generation:
                if len(self._entries) >= self._max and product_id not in self._entries:
                    del self._entries[next(iter(self._entries))]  # the oldest insertion
                self._entries[product_id] = (now, choices)
        return choices

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
