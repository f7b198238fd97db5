"""The checks of the shop's figures (store.monitoring.alerts), on the injected clock. Both are safe to repeat: the
daily one runs at `[shop] metrics_check_at` and hourly after it, in case the worker was down at that time; the
live one (payment success over a sliding window) every minute."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from arq.cron import CronJob, cron

from store.monitoring.alerts import check_daily, check_live

if TYPE_CHECKING:
    from scheduler.jobs import JobDeps


async def check_shop_metrics(ctx: dict[str, Any]) -> dict[str, Any]:
    deps: JobDeps = ctx["deps"]
    result = await asyncio.to_thread(check_daily, deps.clock.now(), deps.metrics)
    return result.as_dict()


async def watch_payments(ctx: dict[str, Any]) -> dict[str, Any]:
    deps: JobDeps = ctx["deps"]
    return await asyncio.to_thread(check_live, deps.clock.now(), deps.metrics)


METRICS_FUNCTIONS = [check_shop_metrics, watch_payments]


def metrics_cron(check_at: str = "00:45") -> list[CronJob]:
    """`check_at` is HH:MM Asia/Shanghai (the worker runs cron in that zone)."""
    hour, minute = (int(part) for part in check_at.split(":"))
    return [
        cron(check_shop_metrics, name="shop-metrics", hour=set(range(hour, 24)), minute=minute, second=0,
             unique=True, keep_result=3600),
        cron(watch_payments, name="payment-watch", second=20, unique=True, run_at_startup=False, keep_result=60),
    ]  # fmt: skip
