"""The merchant's business metrics in the admin API (auth and errors from the admin sub-app, bot.admin.app).

`GET /admin/api/metrics?day=YYYY-MM-DD&funnel_days=7&by_product=1` — as of now: GMV of the week, month and quarter
against the previous period (same elapsed time), refunds and net; average order value against its band; the
exposure → click → paid funnel (`by_product=1` adds the products with most exposures); payment success in the
last hour and today; the cancellation rate of `day` (default today); this week's complaint rate. Definitions are
in store/monitoring/figures.py. 400 on a malformed parameter.
"""

from __future__ import annotations

import json
from datetime import date
from functools import partial

from aiohttp import web

from bot.admin.api import error
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from store.monitoring.figures import MetricRules, snapshot

METRIC_RULES = web.AppKey("metric_rules", MetricRules)
MAX_FUNNEL_DAYS = 366
_dumps = partial(json.dumps, ensure_ascii=False)


def setup(app: web.Application, admin: web.Application) -> None:
    app[METRIC_RULES] = MetricRules.from_settings(app[CONFIG].shop)
    admin.router.add_get("/api/metrics", metrics_view)


async def metrics_view(request: web.Request) -> web.Response:
    query = request.query
    try:
        day = date.fromisoformat(query["day"]) if query.get("day") else None
    except ValueError:
        return error(400, "day must be a date like 2026-11-24")
    days = query.get("funnel_days", "7")
    if not days.isdigit() or not 1 <= int(days) <= MAX_FUNNEL_DAYS:
        return error(400, f"funnel_days must be 1..{MAX_FUNNEL_DAYS}")
    by_product = query.get("by_product", "") in ("1", "true", "yes")
    app = request.config_dict
    figures = await run_blocking(app, partial(snapshot, app[RESOURCES].clock.now(), app[METRIC_RULES], day=day,
                                              funnel_days=int(days), by_product=by_product))  # fmt: skip
    return web.json_response(figures, dumps=_dumps)
