"""The aiohttp app factory: one `setup_*` per concern, every resource opened and closed in `cleanup_ctx`."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web

from bot.admin.app import setup_admin_app
from bot.chat.conversation import setup_conversation
from bot.jobs.queue import setup_jobs
from bot.logistics.notify import setup_logistics_notify
from bot.pay.notify import setup_pay_notify
from bot.pay.pages import setup_pay_pages
from bot.process import metrics
from bot.process.config import Config
from bot.process.resources import open_resources
from bot.web.bargain_pages import setup_bargain_pages
from bot.web.campaign_links import setup_campaign_links
from bot.web.group_pages import setup_group_pages
from bot.web.product_pages import setup_product_pages
from bot.web.promoter_pages import setup_promoter_pages
from bot.web.runtime import CLOCK, CONFIG, EXECUTOR, RESOURCES, HandlerPool, run_blocking
from bot.wechat.gateway import setup_gateway
from store.core.clock import Clock
from store.core.db import database
from store.monitoring.heartbeat import last_heartbeat
from store.monitoring.watch import firing_figures, readings
from store.schema.steps import prepare

log = logging.getLogger("wxshop.app")

T = TypeVar("T")


def create_app(config: Config, clock: Clock | None = None) -> web.Application:
    app = web.Application(client_max_size=config.server.max_body_bytes, middlewares=[metrics_middleware])
    app[CONFIG] = config
    app[CLOCK] = clock
    setup_executor(app)
    setup_resources(app)
    setup_health(app)
    setup_metrics(app)
    setup_conversation(app)
    setup_gateway(app)
    setup_product_pages(app)
    setup_group_pages(app)
    setup_promoter_pages(app)
    setup_bargain_pages(app)
    setup_campaign_links(app)
    setup_jobs(app)
    setup_pay_pages(app)
    setup_pay_notify(app)
    setup_logistics_notify(app)
    setup_admin_app(app)
    return app


def setup_executor(app: web.Application) -> None:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        pool = HandlerPool(app[CONFIG].server.handler_threads, "wxshop")
        app[EXECUTOR] = pool
        yield
        pool.shutdown(wait=True, cancel_futures=True)

    app.cleanup_ctx.append(ctx)


def setup_resources(app: web.Application) -> None:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        resources = await run_blocking(app, open_resources, app[CONFIG], app[CLOCK])
        try:
            await run_blocking(app, prepare, resources.clock.now())
        except BaseException:
            await resources.aclose()
            raise
        app[RESOURCES] = resources
        yield
        await resources.aclose()

    app.cleanup_ctx.append(ctx)


def setup_health(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)


def setup_metrics(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics_view)


def _check_database() -> dict[str, Any]:
    database.execute_sql("SELECT 1")
    beat = last_heartbeat()
    return {"worker_heartbeat": beat.isoformat() if beat else None, "_beat": beat}


def worker_silent_for(beat: datetime | None, now: datetime, max_age_s: int) -> float | None:
    """Seconds since the worker's last heartbeat when that is over `max_age_s`: its cron stopped (the worker
    died, or lost Redis for good). None when it is recent, when not checked (0), or when no worker has beaten
    yet (a new deployment: serve comes up before the worker's first minute)."""
    if beat is None or not max_age_s:
        return None
    age = (now - beat).total_seconds()
    return age if age > max_age_s else None


async def _probe(what: Awaitable[T], timeout: float = 2.0) -> tuple[bool, T | str]:
    try:
        return True, await asyncio.wait_for(what, timeout)
    except Exception as exc:  # any failure of a dependency means "down", reported, never raised
        return False, f"{type(exc).__name__}: {exc}"[:200]


async def healthz(request: web.Request) -> web.Response:
    """200 when the database and Redis answer and the worker beats, 503 naming what does not."""
    app = request.app
    resources = app[RESOURCES]
    db_ok, db_info = await _probe(run_blocking(app, _check_database))
    redis_ok, redis_info = await _probe(resources.aredis.ping())
    body: dict[str, Any] = {"database": "ok" if db_ok else db_info, "redis": "ok" if redis_ok else redis_info}
    worker_ok = True
    if db_ok and isinstance(db_info, dict):
        beat = db_info.pop("_beat")
        body.update(db_info)
        max_age = app[CONFIG].server.worker_heartbeat_max_age_s
        silent = worker_silent_for(beat, resources.clock.now(), max_age)
        worker_ok = silent is None
        body["worker"] = "ok" if worker_ok else f"no heartbeat for {silent:.0f} s (more than {max_age} s)"
    healthy = db_ok and redis_ok and worker_ok
    body = {"status": "ok" if healthy else "down", **body}
    return web.json_response(body, status=200 if healthy else 503)


def _metrics_allowed(request: web.Request) -> bool:
    """Open when `[server] metrics_token` is empty; else the token as a bearer header or `?token=` (scrapers that
    cannot send headers)."""
    token = request.app[CONFIG].server.metrics_token
    if not token:
        return True
    header = request.headers.get("Authorization", "")
    given = header[7:] if header.startswith("Bearer ") else request.query.get("token", "")
    return hmac.compare_digest(given.encode(), token.encode())


def _shop_figures() -> list[metrics.FigureSample]:
    """The watched figures' last readings and which alerts fire (two small reads: one row per figure)."""
    firing = firing_figures()
    return [metrics.FigureSample(r.figure, r.value, r.threshold, r.bound, r.sample, r.checked_at.timestamp(),
                                 r.figure in firing) for r in readings()]  # fmt: skip


async def metrics_view(request: web.Request) -> web.Response:
    if not _metrics_allowed(request):
        return web.Response(status=401, text="metrics need [server] metrics_token as a bearer token or ?token=\n",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})  # fmt: skip
    resources = request.app[RESOURCES]
    ok, depth = await _probe(resources.aredis.zcard(resources.queue_name), timeout=0.5)
    if ok:
        metrics.QUEUE_DEPTH.set(depth)  # type: ignore[arg-type]
    ok, figures = await _probe(run_blocking(request.app, _shop_figures), timeout=1.0)
    if ok:
        metrics.set_shop_figures(figures)  # type: ignore[arg-type]
    body, content_type = metrics.render()
    return web.Response(body=body, headers={"Content-Type": content_type})


@web.middleware
async def metrics_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    started = time.perf_counter()
    route = metrics.route_name(request)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except Exception:
        metrics.ERRORS.labels("http", "unhandled").inc()
        log.exception("unhandled error", extra={"path": request.path})
        raise
    finally:
        metrics.observe_request(route, request.method, status, time.perf_counter() - started)
