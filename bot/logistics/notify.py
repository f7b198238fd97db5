"""`POST /logistics/notify`: Kuaidi100-style tracking pushes (WECHAT.md §5), form fields `param` and `sign`; the
HTTP side of handlers.tracking_push.

Every refusal is `{"result":false,…}` with a log line and a metric — never a 500; `{"result":true,
"returnCode":"200","message":"成功"}` is written only after the trace's transaction committed.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web
from prometheus_client import Counter

from bot.process import metrics
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from handlers.tracking_push import PushVerdict, read_push, store_push
from store.logistics.parcel_alerts import LogisticsRules

log = logging.getLogger("wxshop.logistics")

PUSHES = Counter("wxshop_tracking_pushes_total", "Tracking pushes received, by outcome", ["outcome"])
RULES = web.AppKey("logistics_rules", LogisticsRules)


def setup_logistics_notify(app: web.Application) -> None:
    config = app[CONFIG]
    app[RULES] = LogisticsRules.from_settings(config.logistics, config.shop)
    app.router.add_post("/logistics/notify", logistics_notify)


def _answer(verdict: PushVerdict, **context: object) -> web.Response:
    PUSHES.labels(verdict.label).inc()
    extra = {**verdict.context, **context}
    if verdict.label == "error":
        metrics.ERRORS.labels("logistics_notify", str(extra.pop("type", "error"))).inc()
        log.error("could not store a tracking push", extra=extra)
    elif not verdict.ok:
        metrics.REJECTED.labels(f"logistics_{verdict.label}").inc()
        log.warning("tracking push refused", extra={"reason": verdict.label, **extra})
    else:
        log.info("tracking push", extra={"outcome": verdict.label, **extra})
    return web.json_response(verdict.body(), dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def logistics_notify(request: web.Request) -> web.Response:
    app = request.app
    try:
        form = await request.post()
    except ValueError:
        return _answer(PushVerdict("malformed", False, "请求格式错误"), remote=request.remote)
    read = read_push(form.get("param"), form.get("sign"), app[CONFIG].logistics.salt)
    if isinstance(read, PushVerdict):
        return _answer(read, remote=request.remote)
    return _answer(await run_blocking(app, store_push, read, app[RESOURCES].clock.now(), app[RULES]))
