"""分销 jobs: the hourly sweep that confirms every pending commission whose after-sales window
(`[after_sales] eligible_days` from payment) has closed, by moving one watermark forward
(`store.commission.ledger.confirm_due`): a doubled or crashed run confirms nothing twice, and a refund landing at
the same moment is applied exactly once."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from arq.cron import CronJob, cron

from store.commission.ledger import confirm_due

if TYPE_CHECKING:
    from scheduler.jobs import JobDeps

log = logging.getLogger("wxshop.jobs.commission")


async def confirm_commissions(ctx: dict[str, Any]) -> int:
    """Cron, hourly: see the module docstring. Returns how many commissions were confirmed."""
    deps: JobDeps = ctx["deps"]
    confirmed = await asyncio.to_thread(confirm_due, deps.clock.now(), deps.after_sales.eligible_days)
    if confirmed:
        log.info("commissions confirmed", extra={"confirmed": confirmed})
    return confirmed


COMMISSION_FUNCTIONS = [confirm_commissions]


def commission_cron() -> list[CronJob]:
    return [cron(confirm_commissions, name="commission-confirm", minute=17, second=40, unique=True, keep_result=60)]
