"""Enqueueing jobs from the web app: one arq pool per app (opened in `cleanup_ctx`), usable from the event loop
(`await jobs.enqueue(...)`) and from handler threads (`jobs.enqueue_from_thread(...)`, which hands the call to
the loop and waits briefly). Enqueueing is best effort by design: every job that matters has a sweep behind
it (order timeouts, refunds), so a failure is logged and reported as False, never raised into a reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from arq.connections import ArqRedis, create_pool
from arq.constants import expires_extra_ms

from bot.process.redis_urls import arq_settings
from bot.web.runtime import RESOURCES
from scheduler.order_jobs import cancel_job_id
from store.core.clock import Clock

log = logging.getLogger("wxshop.jobs")

ENQUEUE_TIMEOUT_S = 5.0


class JobQueue:
    def __init__(self, pool: ArqRedis, loop: asyncio.AbstractEventLoop, clock: Clock) -> None:
        self.pool = pool
        self.loop = loop
        self.clock = clock
        self.closed = False

    async def enqueue(self, function: str, *args: Any, **options: Any) -> bool:
        """Queue `function(*args)`; options are arq's (`_job_id`, `_defer_until`…), `_defer_until` in business
        time. False when not queued (the id exists already, Redis failed, or the app is shutting down)."""
        if self.closed:  # a closed pool would quietly open a new connection that nothing ever closes
            log.warning("could not enqueue: shutting down", extra={"function": function})
            return False
        options = wall_timing(options, self.clock.now())
        try:
            job = await self.pool.enqueue_job(function, *args, **options)
        except Exception as exc:  # Redis down or slow: the sweeps pick the work up
            log.warning("could not enqueue", extra={"function": function, "error": repr(exc)})
            return False
        return job is not None

    def enqueue_from_thread(self, function: str, *args: Any, **options: Any) -> bool:
        """The same from a handler thread: handed to the loop, waited for briefly. Called on the loop's own
        thread it cannot wait (that would deadlock), so it queues the call and reports True."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            task = self.loop.create_task(self.enqueue(function, *args, **options))
            _background.add(task)
            task.add_done_callback(_background.discard)
            return True
        future = asyncio.run_coroutine_threadsafe(self.enqueue(function, *args, **options), self.loop)
        try:
            return future.result(ENQUEUE_TIMEOUT_S)
        except Exception as exc:  # timed out or the loop is closing
            future.cancel()
            log.warning("could not enqueue", extra={"function": function, "error": repr(exc)})
            return False

    def schedule_cancel(self, order_no: str, expires_at: datetime) -> bool:
        """For the chat flow (a handler thread) right after `create_order`: time the order out at
        `expires_at`. The minute sweep cancels it anyway if this fails."""
        return self.enqueue_from_thread(
            "cancel_unpaid", order_no, _job_id=cancel_job_id(order_no), _defer_until=expires_at
        )


def wall_timing(options: dict[str, Any], now: datetime) -> dict[str, Any]:
    """arq times deferred jobs by the wall clock, our callers by the business clock (`now`, which a test or demo
    may have moved): `_defer_until` becomes a delay from now, so a job falls due after the same interval on
    either clock. arq's default expiry counts from the due time; ours is until due plus a day (a time already
    past would give a negative expiry that Redis refuses, and nothing would be queued)."""
    due = options.get("_defer_until")
    if due is None:
        return options
    delay = max(due - now, timedelta(0))
    timed = {k: v for k, v in options.items() if k != "_defer_until"}
    timed["_defer_by"] = delay
    timed.setdefault("_expires", delay + timedelta(milliseconds=expires_extra_ms))
    return timed


JOBS = web.AppKey("jobs", JobQueue)
_background: set[asyncio.Task[bool]] = set()


def cancel_scheduler(app: web.Application) -> Callable[[str, datetime], None]:
    """`after_order` for the checkout flow: schedules the unpaid timeout through the app's queue, looked up at
    call time (the queue opens in its own cleanup_ctx, after the conversation's)."""

    def schedule(order_no: str, expires_at: datetime) -> None:
        jobs = app.get(JOBS)
        if jobs is None or not jobs.schedule_cancel(order_no, expires_at):
            log.warning("unpaid timeout not scheduled; the minute sweep will cancel", extra={"order_no": order_no})

    return schedule


def setup_jobs(app: web.Application) -> None:
    """After `setup_resources`: the pool needs the Redis URL and queue name."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        resources = app[RESOURCES]
        pool = await create_pool(
            arq_settings(resources.redis_url), default_queue_name=resources.queue_name
        )
        jobs = app[JOBS] = JobQueue(pool, asyncio.get_running_loop(), resources.clock)
        yield
        pending = [task for task in _background if not task.done()]
        if pending:  # enqueues handed over from the loop's own thread finish before the pool closes
            await asyncio.wait(pending, timeout=ENQUEUE_TIMEOUT_S)
        jobs.closed = True
        await pool.aclose()

    app.cleanup_ctx.append(ctx)
