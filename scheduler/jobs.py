"""Job functions: plain async functions taking arq's `ctx`; blocking domain work goes to a thread.

`ctx["deps"]` is handed in by whoever assembles the worker (bot/jobs/worker.py); it carries the clock and, later,
the WeChat gateway. Jobs never read config or open connections themselves.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from arq.cron import CronJob, cron

from scheduler.member_jobs import MemberJobDeps
from scheduler.profile_jobs import ProfileJobDeps
from scheduler.tag_jobs import TagJobDeps
from store.after_sales.tickets import AfterSalesRules
from store.core.clock import Clock
from store.core.db import write_transaction
from store.logistics.parcel_alerts import LogisticsRules
from store.logistics.tracking import TrackingProvider
from store.monitoring.figures import MetricRules
from store.monitoring.heartbeat import record_heartbeat
from store.orders.checkout import ShopRules
from store.orders.payments import PayGateway
from store.outbox.notices import apply_receipts, purge_receipts

RECEIPTS_KEPT = timedelta(days=2)


@dataclass(frozen=True)
class JobDeps:
    clock: Clock
    worker_name: str
    pay: PayGateway | None = None  # WeChat Pay, for order timeouts and refunds
    rules: ShopRules = field(default_factory=ShopRules)
    members: MemberJobDeps = field(default_factory=MemberJobDeps)  # gift, birthday, tier and points rules
    tracking: TrackingProvider | None = None  # Kuaidi100, for subscriptions and the polling fallback
    logistics: LogisticsRules = field(default_factory=LogisticsRules)
    after_sales: AfterSalesRules = field(default_factory=AfterSalesRules)
    metrics: MetricRules = field(default_factory=MetricRules)  # the daily check's thresholds and operators
    profiles: ProfileJobDeps = field(default_factory=ProfileJobDeps)  # RFM edges, lifecycle rules, event retention
    tags: TagJobDeps | None = None  # WeChat's tag API and the sync's batch sizes
    alerts_per_day: int = 3  # 到货/降价提醒 notices a follower gets a day ([marketing] alerts_per_day)


async def beat(ctx: dict[str, Any], source: str = "cron") -> str:
    """Record that a worker ran: the example job, and the proof of life /healthz reports."""
    deps: JobDeps = ctx["deps"]
    job_id = ctx.get("job_id", "")
    await asyncio.to_thread(record_heartbeat, job_id, f"{source}@{deps.worker_name}", deps.clock.now())
    return job_id


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Apply TEMPLATESENDJOBFINISH results that raced their send's bookkeeping; forget very old ones."""
    deps: JobDeps = ctx["deps"]

    def sweep() -> int:
        with write_transaction():
            applied = apply_receipts()
            purge_receipts(deps.clock.now() - RECEIPTS_KEPT)
        return applied

    return await asyncio.to_thread(sweep)


CORE_FUNCTIONS = [beat, sweep_outbox]


def core_cron() -> list[CronJob]:
    """The worker's own: its heartbeat (what /healthz reads) and the outbox's receipts sweep."""
    return [
        cron(beat, name="heartbeat", second=0, unique=True, run_at_startup=False, keep_result=60),
        cron(sweep_outbox, name="outbox-sweep", second=30, unique=True, run_at_startup=False, keep_result=60),
    ]
