"""Restock alerts: each `StockAlert` the inventory recorded (one per threshold crossing) becomes an operator
alert in the outbox, in the same transaction that marks it delivered, so a re-run never alerts twice."""

from __future__ import annotations

import asyncio
from typing import Any

from arq.cron import CronJob, cron

from store.catalog.inventory import mark_alert_delivered, pending_alerts
from store.catalog.products import Sku
from store.core.db import write_transaction
from store.monitoring.ops_alerts import alert_operators

BATCH = 100


def deliver_pending(operators: tuple[str, ...], now: Any) -> int:
    """Queue an alert for each pending crossing; returns how many were handled."""
    handled = 0
    for alert in pending_alerts(BATCH):
        with write_transaction():
            if not mark_alert_delivered(alert.id, now):
                continue  # another worker took it
            sku = Sku.get_or_none(Sku.id == alert.sku_id)
            name = sku.product.title if sku else f"SKU {alert.sku_id}"
            ref = sku.code if sku else str(alert.sku_id)
            subject = f"库存预警剩{alert.stock_at_alert}件：{name}"[:20]
            alert_operators(operators, subject, ref, f"stock:{alert.id}", now)
        handled += 1
    return handled


async def deliver_stock_alerts(ctx: dict[str, Any]) -> int:
    deps = ctx["deps"]
    return await asyncio.to_thread(deliver_pending, deps.logistics.operators, deps.clock.now())


STOCK_FUNCTIONS = [deliver_stock_alerts]


def stock_cron() -> list[CronJob]:
    return [cron(deliver_stock_alerts, name="stock-alerts", second=50, unique=True, keep_result=60)]
