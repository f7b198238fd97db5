"""砍价 jobs: one minute sweep that closes bargains whose window ended (`store.bargain.sweeps`, idempotent)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from arq.cron import CronJob, cron

from store.bargain.sweeps import expire_bargains

if TYPE_CHECKING:
    from scheduler.jobs import JobDeps

log = logging.getLogger("wxshop.jobs.bargain")


async def close_bargains(ctx: dict[str, Any]) -> int:
    """Cron, every minute: expire what is due. Returns how many bargains closed this run."""
    deps: JobDeps = ctx["deps"]
    closed = await asyncio.to_thread(expire_bargains, deps.clock.now())
    if closed:
        log.info("bargain sweep", extra={"expired": closed})
    return closed


BARGAIN_FUNCTIONS = [close_bargains]


def bargain_cron() -> list[CronJob]:
    return [cron(close_bargains, name="bargain-close", second=40, unique=True, keep_result=60)]
