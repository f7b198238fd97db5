"""拼团 jobs: one minute sweep that closes what is due — groups whose leader never paid, places held by cancelled
orders, groups whose window ended unfilled — and refunds every payment of those groups. Each step is an
idempotent store sweep (`store.group_buy.sweeps`), so a crashed or doubled run changes nothing twice; the refunds
carry fixed numbers, and a refund WeChat does not finish now is pushed on by the refund sweep (`order_jobs`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from arq.cron import CronJob, cron

from store.group_buy.sweeps import fail_expired, refunds_owed, release_places, void_unstarted
from store.members.accounts import MemberRules
from store.orders.payments import PayGateway
from store.orders.refunds import submit_refund

if TYPE_CHECKING:
    from scheduler.jobs import JobDeps

log = logging.getLogger("wxshop.jobs.group_buy")


@dataclass(frozen=True)
class GroupSweep:
    voided: int
    freed: int
    failed: list[str]
    refunds: list[str]


def sweep_groups(now: datetime, pay: PayGateway | None, rules: MemberRules) -> GroupSweep:
    """The synchronous sweep (also run by tests with a fixed `now`)."""
    voided = void_unstarted(now)
    freed = release_places(now)
    failed = fail_expired(now)
    refunds = refunds_owed(now)
    if pay is not None:
        for refund_no in refunds:
            submit_refund(refund_no, pay, now, rules)
    return GroupSweep(voided, freed, failed, refunds)


async def close_groups(ctx: dict[str, Any]) -> int:
    """Cron, every minute: see the module docstring. Returns how many groups failed this run."""
    deps: JobDeps = ctx["deps"]
    result = await asyncio.to_thread(sweep_groups, deps.clock.now(), deps.pay, deps.rules.members)
    if result.failed or result.refunds:
        log.info("group buy sweep", extra={"failed": len(result.failed), "refunds": len(result.refunds)})
    return len(result.failed)


GROUP_BUY_FUNCTIONS = [close_groups]


def group_buy_cron() -> list[CronJob]:
    return [cron(close_groups, name="group-buy-close", second=30, unique=True, keep_result=60)]
