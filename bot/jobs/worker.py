"""`wxshop worker`: the arq worker assembled with our resources, job functions and cron table."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from typing import Any

import redis
from arq import Worker
from arq.connections import ArqRedis, create_pool
from arq.cron import CronJob

from bot.features import cron_entries, job_functions, profiles, tags
from bot.jobs.outbox_service import OutboxService
from bot.jobs.queue import wall_timing
from bot.logistics.client import Kuaidi100Client
from bot.pay.client import WeChatPayClient
from bot.process.config import Config
from bot.process.redis_urls import arq_settings
from bot.process.resources import Resources, open_resources
from scheduler.jobs import JobDeps
from scheduler.member_jobs import MemberJobDeps
from store.after_sales.tickets import AfterSalesRules
from store.core.clock import SHANGHAI, Clock
from store.core.keys import Keys
from store.logistics.parcel_alerts import LogisticsRules
from store.members.settings import MemberSettings
from store.monitoring.figures import MetricRules
from store.orders.checkout import ShopRules
from store.schema.steps import prepare

log = logging.getLogger("wxshop.worker")


def namespaced(jobs: list[CronJob], prefix: str) -> list[CronJob]:
    """arq keys a cron run's job by its name, outside our key prefix: deployments (and test runs) sharing a
    Redis server would skip each other's runs. Prefixing the names keeps each deployment's cron its own."""
    for job in jobs:
        job.name = f"{prefix}{job.name}"
    return jobs


def build_worker(config: Config, resources: Resources, burst: bool = False, **overrides: Any) -> Worker:
    deps = JobDeps(
        clock=resources.clock,
        worker_name=f"{socket.gethostname()}:{os.getpid()}",
        pay=WeChatPayClient(config),
        rules=ShopRules.from_settings(config.shop),
        members=MemberJobDeps(MemberSettings.from_settings(config.shop, config.wechat.app_id), config.redis.prefix),
        tracking=Kuaidi100Client.from_config(config),
        logistics=LogisticsRules.from_settings(config.logistics, config.shop),
        after_sales=AfterSalesRules.from_settings(config.after_sales, config.shop),
        metrics=MetricRules.from_settings(config.shop),
        profiles=profiles.job_deps(config),
        tags=tags.job_deps(config, resources),
        alerts_per_day=config.marketing.alerts_per_day,
    )
    outbox = OutboxService(config, resources, deps.worker_name)

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["deps"] = deps
        if not burst:  # delivers notices continuously beside the jobs (bot/jobs/outbox_service.py)
            await outbox.start()

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        if burst:  # the notices that are due, those the jobs just queued included
            await outbox.drain()
        else:
            await outbox.stop()

    options: dict[str, Any] = {
        "functions": job_functions(),
        "cron_jobs": namespaced(cron_entries(config), Keys(config.redis.prefix).cron()),
        "timezone": SHANGHAI,  # cron hours (birthdays, nightly sweeps) are Asia/Shanghai whatever the host says
        "redis_settings": arq_settings(resources.redis_url),
        "queue_name": resources.queue_name,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "ctx": {"outbox": outbox},  # stopped by `run_worker` when Redis is lost: arq's close stops short then
        "burst": False,  # arq's burst waits for deferred jobs too, however far off: `run_burst` stops when idle
        "handle_signals": not burst,
        "max_jobs": 20,
        "job_timeout": 300,
        "keep_result": 3600,
        "poll_delay": 0.25,
    }
    options.update(overrides)
    return Worker(**options)


RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 30.0
LOST = (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError)


def run_worker(config: Config, burst: bool = False, clock: Clock | None = None) -> int:
    """Run until SIGTERM (or, with `burst`, until nothing is due). A standing worker that loses Redis after it
    started builds itself again and carries on, waiting 0.5 s, then twice as long each time up to 30 s, while
    Redis stays away; one that cannot reach Redis at start-up stops with one line, as every command does."""
    resources = open_resources(config, clock)
    try:
        prepare()
        if burst:
            log.info("worker started", extra={"queue": resources.queue_name, "burst": True})
            run_burst(build_worker(config, resources, burst=True))
            return 0
        delay = RECONNECT_FIRST_S
        started = False
        while True:
            worker = build_worker(config, resources)
            log.info("worker started", extra={"queue": resources.queue_name, "burst": False})
            began = time.monotonic()
            try:
                worker.run()
                return 0
            except LOST as exc:
                started = started or "deps" in worker.ctx  # set on start-up, once connected: an outage, not a typo
                if not started:
                    raise
                if time.monotonic() - began > RECONNECT_MAX_S:
                    delay = RECONNECT_FIRST_S  # it ran a while: a new outage starts the waits afresh
                with contextlib.suppress(Exception):  # its dispatcher must not run on beside the next one
                    worker.loop.run_until_complete(worker.ctx["outbox"].stop())
                log.warning("worker lost Redis, starting again", extra={"error": str(exc), "wait_s": delay})
                time.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
    finally:
        resources.close_sync()


def run_burst(worker: Worker) -> None:
    """Run the jobs that are due, then stop (the notices they queued are sent by `on_shutdown`). Jobs deferred
    to later stay queued for a later run or a standing worker: a burst run started by cron must not wait for an
    order's half-hour payment window."""

    async def until_idle() -> None:
        main = asyncio.ensure_future(worker.async_run())
        try:
            while not main.done():
                await asyncio.wait({main}, timeout=worker.poll_delay_s)
                if not main.done() and await _idle(worker):
                    return
            main.result()  # a worker that failed on its own says why
        finally:
            main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await main

    try:
        worker.loop.run_until_complete(until_idle())
    finally:
        worker.loop.run_until_complete(worker.close())


async def _idle(worker: Worker) -> bool:
    """No job is running and none is due: arq keeps a job in its queue until the job is done."""
    if any(not task.done() for task in worker.tasks.values()):
        return False
    due = await worker.pool.zcount(worker.queue_name, float("-inf"), time.time() * 1000)
    return due == 0


async def job_pool(resources: Resources) -> ArqRedis:
    """A client for enqueueing jobs on this deployment's queue."""
    return await create_pool(arq_settings(resources.redis_url), default_queue_name=resources.queue_name)


def enqueue(resources: Resources, function: str, *args: Any, **kwargs: Any) -> str | None:
    """Enqueue from synchronous code (the CLI); returns the job id, or None when that id already exists.
    `_defer_until` is business time, as for `JobQueue.enqueue`."""
    kwargs = wall_timing(kwargs, resources.clock.now())

    async def go() -> str | None:
        pool = await job_pool(resources)
        try:
            job = await pool.enqueue_job(function, *args, **kwargs)
            return job.job_id if job else None
        finally:
            await pool.aclose()

    return asyncio.run(go())
