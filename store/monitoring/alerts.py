"""The daily health check of the shop's figures (DESIGN §6): yesterday's cancellation rate against `[shop]
cancellation_alert_rate`, and the average order value of the 7 days up to today 00:00 against its band. A figure
out of bounds alerts operators once per day and figure (the outbox's dedup key), however often the check runs, so
the worker may repeat it to catch up after downtime. The figures only look at finished days, so a later run
computes the same ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from store.core.db import write_transaction
from store.monitoring.figures import (
    Cancellation,
    MetricRules,
    OrderValue,
    average_order_value,
    cancellation,
    local_day,
    midnight,
)
from store.monitoring.ops_alerts import alert_operators

log = logging.getLogger("wxshop.metrics")
CANCELLATION, ORDER_VALUE = "cancellation", "order_value"


def percent(value: float) -> str:
    """`0.125` → `12.5%`, `0.08` → `8%`."""
    return f"{value * 100:.1f}".removesuffix(".0") + "%"


@dataclass(frozen=True)
class DailyCheck:
    day: date
    cancellation: Cancellation
    order_value: OrderValue
    alerts: tuple[str, ...]  # the figures out of bounds (alerted now, or by an earlier run of the same day)

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "cancellation": self.cancellation.as_dict(),
                "average_order_value": self.order_value.as_dict(), "alerts": list(self.alerts)}  # fmt: skip


def check_daily(now: datetime, rules: MetricRules) -> DailyCheck:
    """Check yesterday's figures and alert operators about those out of bounds (once per day and figure)."""
    today = local_day(now)
    day = today - timedelta(days=1)
    cancelled = cancellation(day, rules.cancellation_threshold)
    value = average_order_value(midnight(today), rules.aov_band)
    subjects: dict[str, str] = {}
    if cancelled.alert:
        rate, threshold = percent(cancelled.cancelled / cancelled.created), percent(rules.cancellation_threshold)
        subjects[CANCELLATION] = f"订单取消率{rate}超过{threshold}"
    if not value.within_band and value.deviation is not None:
        subjects[ORDER_VALUE] = f"客单价偏离基线{'+' if value.deviation > 0 else ''}{percent(value.deviation)}"
    if subjects:
        with write_transaction():
            for figure, subject in subjects.items():
                alert_operators(rules.operators, subject, day.isoformat(), f"metrics:{figure}:{day}", now)
        log.warning("shop metrics out of bounds", extra={"day": day.isoformat(), "alerts": sorted(subjects)})
    return DailyCheck(day, cancelled, value, tuple(subjects))
