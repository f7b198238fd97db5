"""The daily check of the shop's figures (store.monitoring.alerts), on the injected clock; safe to repeat, so the cron
runs it at `[shop] metrics_check_at` and hourly after it, in case the worker was down at that time."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from arq.cron import CronJob, cron

from store.monitoring.alerts import check_daily

if TYPE_CHECKING:
    from scheduler.jobs import JobDeps


async def check_shop_metrics(ctx: dict[str, Any]) -> dict[str, Any]:
    deps: JobDeps = ctx["deps"]
    result = await asyncio.to_thread(check_daily, deps.clock.now(), deps.metrics)
    return result.as_dict()


METRICS_FUNCTIONS = [check_shop_metrics]


def metrics_cron(check_at: str = "00:45") -> list[CronJob]:
    """`check_at` is HH:MM Asia/Shanghai (the worker runs cron in that zone)."""
    hour, minute = (int(part) for part in check_at.split(":"))
    return [cron(check_shop_metrics, name="shop-metrics", hour=set(range(hour, 24)), minute=minute, second=0,
                 unique=True, keep_result=3600)]  # fmt: skip
