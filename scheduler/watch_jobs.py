"""到货提醒 / 降价提醒: a minute sweep that queues a notice for every watch whose moment came (a restock, a lower
price), at most `[marketing] alerts_per_day` (`JobDeps.alerts_per_day`) a follower a Shanghai day. The store's
conditional claim makes it once per watch however many workers run it; the outbox sends it (customer-service
message inside the window, template outside)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from arq.cron import CronJob, cron

from store.catalog.watches import notify_due

if TYPE_CHECKING:
    from scheduler.jobs import JobDeps

log = logging.getLogger("wxshop.jobs.watches")


async def notify_watches(ctx: dict[str, Any]) -> int:
    """Cron, every minute: see the module docstring. Returns how many notices it queued."""
    deps: JobDeps = ctx["deps"]
    queued = await asyncio.to_thread(notify_due, deps.clock.now(), deps.alerts_per_day)
    if queued:
        log.info("product alerts queued", extra={"queued": queued})
    return queued


WATCH_FUNCTIONS = [notify_watches]


def watch_cron() -> list[CronJob]:
    return [cron(notify_watches, name="product-alerts", second=40, unique=True, keep_result=60)]
