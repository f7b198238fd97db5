"""Shipping and tracking jobs, each a sweep over the database on the injected clock (`ctx["deps"]`), safe to run
again or on several workers at once:

* `subscribe_parcels` (every minute, and queued right after shipping): subscribe pending shipments with the
  tracking provider, so shipping never waits on it (store.logistics.tracking.subscribe_due).
* `poll_parcels` (every 15 minutes): the polling fallback — parcels with no push for `stall_hours` are queried
  in real time and the answer applied like a push (store.logistics.tracking.poll_due).
* `sweep_parcel_exceptions` (every 10 minutes): not collected `not_collected_hours` after shipping, or stalled even
  after polling → operator alert and apology, once (store.logistics.parcel_alerts).
* `complete_virtual_orders` (every minute): paid orders with nothing to ship become completed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from arq.cron import CronJob, cron

from store.logistics.parcel_alerts import alert_not_collected, alert_stalled
from store.logistics.shipments import complete_virtual, virtual_orders_to_complete
from store.logistics.tracking import poll_due, subscribe_due

if TYPE_CHECKING:
    from scheduler.jobs import JobDeps

log = logging.getLogger("wxshop.jobs.logistics")


def _deps(ctx: dict[str, Any]) -> JobDeps:
    return ctx["deps"]


async def subscribe_parcels(ctx: dict[str, Any], order_no: str = "") -> int:
    """`order_no` only names the job (`_job_id=subscribe:{order_no}`); the sweep takes every pending parcel."""
    deps = _deps(ctx)
    if deps.tracking is None:
        return 0
    return await asyncio.to_thread(subscribe_due, deps.tracking, deps.clock.now(), deps.logistics)


async def poll_parcels(ctx: dict[str, Any]) -> int:
    deps = _deps(ctx)
    if deps.tracking is None:
        return 0
    return await asyncio.to_thread(poll_due, deps.tracking, deps.clock.now(), deps.logistics)


async def sweep_parcel_exceptions(ctx: dict[str, Any]) -> int:
    deps = _deps(ctx)
    now = deps.clock.now()

    def sweep() -> int:
        return alert_not_collected(now, deps.logistics) + alert_stalled(now, deps.logistics)

    raised = await asyncio.to_thread(sweep)
    if raised:
        log.info("parcel exceptions raised", extra={"count": raised})
    return raised


async def complete_virtual_orders(ctx: dict[str, Any]) -> int:
    deps = _deps(ctx)
    now = deps.clock.now()

    def sweep() -> int:
        return sum(complete_virtual(order_no, now) for order_no in virtual_orders_to_complete())

    return await asyncio.to_thread(sweep)


def subscribe_job_id(order_no: str) -> str:
    return f"subscribe:{order_no}"


LOGISTICS_FUNCTIONS = [subscribe_parcels, poll_parcels, sweep_parcel_exceptions, complete_virtual_orders]


def logistics_cron() -> list[CronJob]:
    return [
        cron(subscribe_parcels, name="parcel-subscriptions", second=20, unique=True, keep_result=60),
        cron(complete_virtual_orders, name="virtual-orders", second=25, unique=True, keep_result=60),
        cron(poll_parcels, name="parcel-polling", minute=set(range(3, 60, 15)), second=5, unique=True, keep_result=60),
        cron(sweep_parcel_exceptions, name="parcel-exceptions", minute=set(range(7, 60, 10)), second=10, unique=True,
             keep_result=60),
    ]  # fmt: skip
