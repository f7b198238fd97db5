"""The worker's own upkeep and the shop's watch: heartbeat, outbox receipts, stock alerts, the daily figures."""

from __future__ import annotations

from bot.features.base import Feature
from scheduler.jobs import CORE_FUNCTIONS, core_cron
from scheduler.metrics_jobs import METRICS_FUNCTIONS, metrics_cron
from scheduler.stock_jobs import STOCK_FUNCTIONS, stock_cron

FEATURE = Feature(
    "operations",
    jobs=(*CORE_FUNCTIONS, *STOCK_FUNCTIONS, *METRICS_FUNCTIONS),
    cron=lambda config: [*core_cron(), *stock_cron(), *metrics_cron(config.shop.metrics_check_at)],
)
