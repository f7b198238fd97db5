"""Stock: guarded decrements never go negative, and exactly one restock alert per threshold crossing — also when
many orders race for the last units."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.process.config import Config
from store.catalog.csv_import import import_file
from store.catalog.inventory import (
    StockAlert,
    UnknownSku,
    mark_alert_delivered,
    pending_alerts,
    release_stock,
    restock,
    set_stock,
    stock_of,
    take_many,
    take_stock,
)
from store.catalog.products import Sku
from store.core.clock import ManualClock
from store.core.db import database, open_database

CATALOG = Path(__file__).parent / "data" / "catalog.csv"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def shop(migrated: Config) -> Config:
    open_database(migrated.database.url, migrated.var_dir)
    import_file(CATALOG)
    return migrated


def sku_with(stock: int, alert: int, code: str = "P006-01") -> int:
    sku = Sku.get(Sku.code == code)
    set_stock(sku.id, stock, alert)
    return sku.id


def alerts_for(sku_id: int) -> list[StockAlert]:
    return list(StockAlert.select().where(StockAlert.sku == sku_id).order_by(StockAlert.id))


def test_take_stock_is_guarded(shop: Config, clock: ManualClock) -> None:
    sku = sku_with(3, 0)
    assert take_stock(sku, 2, clock.now()) and stock_of(sku) == 1
    assert not take_stock(sku, 2, clock.now()) and stock_of(sku) == 1
    assert take_stock(sku, 1, clock.now()) and stock_of(sku) == 0
    assert not take_stock(sku, 1, clock.now()) and stock_of(sku) == 0
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            take_stock(sku, bad, clock.now())  # type: ignore[arg-type]
    with pytest.raises(UnknownSku):
        restock(999999, 1)
    assert not take_stock(999999, 1, clock.now())


def test_one_alert_when_stock_crosses_the_threshold(shop: Config, clock: ManualClock) -> None:
    sku = sku_with(12, 10)
    assert take_stock(sku, 1, clock.now()) and alerts_for(sku) == []
    clock.advance(minutes=5)
    assert take_stock(sku, 1, clock.now())  # 11 → 10: crosses
    assert take_stock(sku, 3, clock.now())  # 10 → 7: already alerted
    [alert] = alerts_for(sku)
    assert (alert.stock_at_alert, alert.threshold, alert.created_at, alert.delivered_at) == (10, 10, clock.now(), None)
    assert not Sku.get_by_id(sku).stock_alert_armed


def test_restock_above_the_threshold_rearms(shop: Config, clock: ManualClock) -> None:
    sku = sku_with(11, 10)
    take_stock(sku, 5, clock.now())  # 11 → 6: alert 1
    restock(sku, 3)  # 9: still at/below the threshold, not re-armed
    take_stock(sku, 1, clock.now())
    assert len(alerts_for(sku)) == 1
    restock(sku, 10)  # 18: re-armed
    assert Sku.get_by_id(sku).stock_alert_armed
    take_stock(sku, 8, clock.now())  # 18 → 10: alert 2
    release_stock(sku, 1)  # a cancelled order gives one back: 11, re-armed
    take_stock(sku, 11, clock.now())  # 11 → 0: alert 3
    assert [a.stock_at_alert for a in alerts_for(sku)] == [6, 10, 0]


def test_a_jump_past_the_threshold_alerts_once_and_setting_stock_never_alerts(shop: Config, clock: ManualClock) -> None:
    sku = sku_with(50, 10)
    take_stock(sku, 45, clock.now())
    assert [a.stock_at_alert for a in alerts_for(sku)] == [5]
    set_stock(sku, 3)  # a stocktake: the operator knows, no alert, stays disarmed
    take_stock(sku, 1, clock.now())
    set_stock(sku, 40)  # re-armed by the count
    take_stock(sku, 35, clock.now())
    assert [a.stock_at_alert for a in alerts_for(sku)] == [5, 5]
    set_stock(sku, 20, stock_alert=25)  # a new threshold above the stock: disarmed, no alert
    take_stock(sku, 1, clock.now())
    assert len(alerts_for(sku)) == 2
    with pytest.raises(ValueError):
        set_stock(sku, -1)


def test_imported_stock_at_or_below_the_threshold_starts_disarmed(shop: Config, clock: ManualClock) -> None:
    sku = Sku.get(Sku.code == "P005-01")  # imported with stock 0, alert 5
    assert not sku.stock_alert_armed
    low = Sku.get(Sku.code == "P002-02")  # stock 4, alert 5
    take_stock(low.id, 1, clock.now())
    assert alerts_for(low.id) == []


def test_take_many_is_all_or_nothing(shop: Config, clock: ManualClock) -> None:
    a, b = sku_with(5, 0, "P006-01"), sku_with(1, 0, "P006-02")
    assert not take_many([(a, 2), (b, 2)], clock.now())
    assert (stock_of(a), stock_of(b)) == (5, 1)
    assert take_many([(a, 2), (b, 1), (a, 1)], clock.now())
    assert (stock_of(a), stock_of(b)) == (2, 0)
    assert take_many([], clock.now())


def test_pending_alerts_are_delivered_once(shop: Config, clock: ManualClock) -> None:
    first, second = sku_with(11, 10, "P006-01"), sku_with(6, 5, "P006-02")
    take_stock(first, 1, clock.now())
    take_stock(second, 2, clock.now())
    pending = pending_alerts()
    assert [a.sku.code for a in pending] == ["P006-01", "P006-02"]
    assert mark_alert_delivered(pending[0].id, clock.now())
    assert not mark_alert_delivered(pending[0].id, clock.now())
    assert [a.sku.code for a in pending_alerts()] == ["P006-02"]


def race(workers: int, work: Callable[[], None]) -> None:
    """Run `work` on `workers` threads released together; each thread uses (and closes) its own connection."""
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            work()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def test_concurrent_orders_never_oversell_and_alert_once_per_crossing(shop: Config, clock: ManualClock) -> None:
    sku = sku_with(100, 10)
    won = []
    lock = threading.Lock()

    def buyer() -> None:
        for _ in range(25):
            if take_stock(sku, 1, clock.now()):
                with lock:
                    won.append(1)

    race(8, buyer)  # 200 attempts for 100 units
    assert len(won) == 100 and stock_of(sku) == 0
    assert [(a.stock_at_alert, a.threshold) for a in alerts_for(sku)] == [(10, 10)]

    restock(sku, 60)
    race(8, buyer)
    assert len(won) == 160 and stock_of(sku) == 0
    assert [a.stock_at_alert for a in alerts_for(sku)] == [10, 10]


def test_concurrent_multi_line_orders_in_opposite_orders_do_not_deadlock(shop: Config, clock: ManualClock) -> None:
    a, b = sku_with(40, 5, "P006-01"), sku_with(40, 5, "P006-02")
    flip = iter(range(1000))
    lock = threading.Lock()

    def buyer() -> None:
        with lock:
            forward = next(flip) % 2 == 0
        for _ in range(10):
            take_many([(a, 1), (b, 1)] if forward else [(b, 1), (a, 1)], clock.now())

    race(6, buyer)  # 60 orders for 40 pairs
    assert (stock_of(a), stock_of(b)) == (0, 0)
    assert len(alerts_for(a)) == 1 and len(alerts_for(b)) == 1
