"""The after-sales sweep (every 5 minutes, on the injected clock): tickets whose refund WeChat settled are closed
and the buyer told; compensations paid by refund are settled the same way; tickets past their SLA deadline
escalate to operators, once per level. Safe to re-run."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from arq.cron import CronJob, cron

from store.after_sales.compensation import settle_compensation_refunds
from store.after_sales.tickets import escalate_overdue, settle_refunds

if TYPE_CHECKING:
    from scheduler.jobs import JobDeps

log = logging.getLogger("wxshop.jobs.after_sales")


async def sweep_after_sales(ctx: dict[str, Any]) -> dict[str, int]:
    deps: JobDeps = ctx["deps"]
    now = deps.clock.now()

    def sweep() -> dict[str, int]:
        rules = deps.after_sales
        return {"settled": settle_refunds(now, rules),
                "compensations": settle_compensation_refunds(now, rules.operators),
                "escalated": escalate_overdue(now, rules)}  # fmt: skip

    done = await asyncio.to_thread(sweep)
    if done["escalated"]:
        log.warning("after-sales SLA breaches escalated", extra=done)
    return done


AFTER_SALES_FUNCTIONS = [sweep_after_sales]


def after_sales_cron() -> list[CronJob]:
    return [cron(sweep_after_sales, name="after-sales", minute=set(range(1, 60, 5)), second=35, unique=True,
                 keep_result=60)]  # fmt: skip
