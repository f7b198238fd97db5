"""The checks of the shop's figures against their bounds (DESIGN §6 Monitoring), each reading handed to
store.monitoring.watch, which alerts operators once per breach and clears the alert when the figure is back.

* Daily (`check_daily`, at `[shop] metrics_check_at` and hourly after, to catch up after downtime): yesterday's
  cancellation rate above `cancellation_alert_rate`; the average order value of the 7 days up to today 00:00
  beyond its ±`aov_band` of the 28 days before; the complaint rate of the same 7 days above `complaint_alert_rate`
  (judged from `complaint_min_orders` paid orders). These only look at finished days, so a later run the same day
  computes the same readings.
* Live (`check_live`, every minute): payment success of the orders created in the sliding window, each at least
  the grace period old, below `payment_success_alert_rate` (judged from `payment_success_min_orders` orders).

A breach is announced in the window it started in (the day, or the minute for payments): operators get one
`ops_alert` per figure and window (the outbox's dedup key), however often the checks run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from store.core.clock import SHANGHAI
from store.monitoring.figures import (
    AOV_DAYS,
    Cancellation,
    MetricRules,
    OrderValue,
    Span,
    average_order_value,
    cancellation,
    complaint_counts,
    local_day,
    midnight,
    payment_success_window,
    ratio,
)
from store.monitoring.watch import RAISED, Reading, observe

log = logging.getLogger("wxshop.metrics")
CANCELLATION, ORDER_VALUE, COMPLAINTS, PAYMENT_SUCCESS = "cancellation", "order_value", "complaints", "payment_success"
FIGURES = (PAYMENT_SUCCESS, CANCELLATION, ORDER_VALUE, COMPLAINTS)


def percent(value: float) -> str:
    """`0.125` → `12.5%`, `0.08` → `8%`."""
    return f"{value * 100:.1f}".removesuffix(".0") + "%"


@dataclass(frozen=True)
class DailyCheck:
    day: date
    cancellation: Cancellation
    order_value: OrderValue
    complaints: Reading
    alerts: tuple[str, ...]  # the figures out of bounds (alerted now, or earlier in the same breach)
    raised: tuple[str, ...] = ()  # the alerts this run opened

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "cancellation": self.cancellation.as_dict(),
                "average_order_value": self.order_value.as_dict(),
                "complaints": {"rate": self.complaints.value, "paid_orders": self.complaints.sample,
                               "threshold": self.complaints.threshold, "alert": bool(self.complaints.breached)},
                "alerts": list(self.alerts), "raised": list(self.raised)}  # fmt: skip


def cancellation_reading(cancelled: Cancellation) -> Reading:
    day = cancelled.day.isoformat()
    rate = cancelled.rate
    subject = f"订单取消率{percent(rate or 0)}超过{percent(cancelled.threshold)}"
    return Reading(CANCELLATION, rate, cancelled.threshold, "max", cancelled.created,
                   None if rate is None else cancelled.alert, day, subject)  # fmt: skip


def order_value_reading(value: OrderValue, day: date) -> Reading:
    deviation = value.deviation
    sign = "+" if deviation is not None and deviation > 0 else ""
    subject = f"客单价偏离基线{sign}{percent(deviation or 0)}"
    breached = None if deviation is None else not value.within_band
    return Reading(ORDER_VALUE, deviation, value.band, "band", value.orders, breached, day.isoformat(), subject)


def complaint_reading(today: date, rules: MetricRules) -> Reading:
    """The 7 days up to today 00:00: complaints opened / orders paid."""
    span = Span(midnight(today - timedelta(days=AOV_DAYS)), midnight(today))
    opened, paid = complaint_counts(span)
    rate = ratio(opened, paid)
    judged = rate is not None and paid >= rules.complaint_min_orders
    breached = opened > rules.complaint_threshold * paid if judged else None
    subject = f"投诉率{percent(rate or 0)}超过{percent(rules.complaint_threshold)}"
    day = (today - timedelta(days=1)).isoformat()
    return Reading(COMPLAINTS, rate, rules.complaint_threshold, "max", paid, breached, day, subject)


def check_daily(now: datetime, rules: MetricRules) -> DailyCheck:
    """Check yesterday's figures (see the module docstring)."""
    today = local_day(now)
    day = today - timedelta(days=1)
    cancelled = cancellation(day, rules.cancellation_threshold)
    value = average_order_value(midnight(today), rules.aov_band)
    readings = (cancellation_reading(cancelled), order_value_reading(value, day), complaint_reading(today, rules))
    raised = tuple(r.figure for r in readings if observe(r, now, rules.operators) == RAISED)
    out = tuple(r.figure for r in readings if r.breached)
    if out:
        log.warning("shop metrics out of bounds", extra={"day": day.isoformat(), "alerts": sorted(out)})
    return DailyCheck(day, cancelled, value, readings[2], out, raised)


def payment_reading(now: datetime, rules: MetricRules) -> Reading:
    orders, paid = payment_success_window(now, rules.payment_window, rules.payment_grace)
    rate = ratio(paid, orders)
    judged = rate is not None and orders >= rules.payment_min_orders
    breached = paid < rules.payment_success_threshold * orders if judged else None
    window = now.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    subject = f"支付成功率{percent(rate or 0)}低于{percent(rules.payment_success_threshold)}"
    return Reading(PAYMENT_SUCCESS, rate, rules.payment_success_threshold, "min", orders, breached, window, subject)


def check_live(now: datetime, rules: MetricRules) -> dict[str, Any]:
    """The live check: payment success over the sliding window (see the module docstring)."""
    reading = payment_reading(now, rules)
    change = observe(reading, now, rules.operators)
    if reading.breached:
        log.warning("payment success below its bound", extra={"rate": reading.value, "orders": reading.sample})
    return {"figure": reading.figure, "rate": reading.value, "orders": reading.sample,
            "threshold": reading.threshold, "alert": bool(reading.breached), "change": change}  # fmt: skip
