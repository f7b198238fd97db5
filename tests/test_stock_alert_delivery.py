"""A stock crossing reaches operators once, through the outbox, however often the job runs."""

from __future__ import annotations

from bot.process.config import Config
from scheduler.stock_jobs import deliver_pending
from store.catalog.csv_import import import_file
from store.catalog.inventory import StockAlert, take_stock
from store.catalog.products import Sku
from store.core.clock import ManualClock
from store.core.db import open_database
from store.outbox.notices import Notice
from tests.test_browse_chat import CATALOG


def test_one_operator_alert_per_crossing(migrated: Config) -> None:
    clock = ManualClock()
    open_database(migrated.database.url, migrated.var_dir)
    import_file(CATALOG)
    sku = Sku.get(Sku.code == "P001-03")  # 18 in stock, alert at 5
    assert take_stock(sku.id, 13, clock.now())
    assert take_stock(sku.id, 1, clock.now())  # below again: the same crossing, no second alert
    assert StockAlert.select().count() == 1

    assert deliver_pending(("o_boss", "o_clerk"), clock.now()) == 1
    notices = list(Notice.select().where(Notice.kind == "ops_alert"))
    assert sorted(n.openid for n in notices) == ["o_boss", "o_clerk"]
    assert "库存预警" in notices[0].fields and "P001-03" in notices[0].fields

    assert deliver_pending(("o_boss", "o_clerk"), clock.now()) == 0, "a re-run alerts nobody again"
    assert Notice.select().where(Notice.kind == "ops_alert").count() == 2
