"""`POST /logistics/notify`: Kuaidi100-style tracking pushes (WECHAT.md §5), form fields `param` and `sign`.

The sign is `md5(param + [logistics] salt)`, compared case-insensitively (the hex case is unconfirmed). A missing
or wrong sign, or a `param` that is not a trace, is refused with `{"result":false,…}`, a log line and a metric —
never a 500. A good push goes to `store.logistics.tracking.apply_trace` on a handler thread, and `{"result":true,
"returnCode":"200","message":"成功"}` is written only after its transaction committed; a database error (or any
other) answers `result:false`, logged and counted, so the provider pushes again. Duplicates, out-of-order
re-pushes and parcels we do not know are acknowledged (nothing to do; refusing would only bring them back).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from aiohttp import web
from prometheus_client import Counter

from bot.process import metrics
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from store.logistics.parcel_alerts import LogisticsRules
from store.logistics.tracking import TraceInvalid, apply_trace, parse_push

log = logging.getLogger("wxshop.logistics")

PUSHES = Counter("wxshop_tracking_pushes_total", "Tracking pushes received, by outcome", ["outcome"])
RULES = web.AppKey("logistics_rules", LogisticsRules)
OK = {"result": True, "returnCode": "200", "message": "成功"}


def setup_logistics_notify(app: web.Application) -> None:
    config = app[CONFIG]
    app[RULES] = LogisticsRules.from_settings(config.logistics, config.shop)
    app.router.add_post("/logistics/notify", logistics_notify)


def _answer(body: dict[str, object]) -> web.Response:
    return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _refuse(reason: str, message: str, **context: object) -> web.Response:
    PUSHES.labels(reason).inc()
    metrics.REJECTED.labels(f"logistics_{reason}").inc()
    log.warning("tracking push refused", extra={"reason": reason, **context})
    return _answer({"result": False, "returnCode": "500", "message": message})


def sign_ok(param: str, sign: str, salt: str) -> bool:
    expected = hashlib.md5((param + salt).encode("utf-8")).hexdigest()
    return hmac.compare_digest(sign.strip().lower().encode(), expected.encode())


async def logistics_notify(request: web.Request) -> web.Response:
    app = request.app
    try:
        form = await request.post()
    except ValueError:
        return _refuse("malformed", "请求格式错误", remote=request.remote)
    param, sign = form.get("param"), form.get("sign")
    if not isinstance(param, str) or not param:
        return _refuse("malformed", "缺少param", remote=request.remote)
    if not isinstance(sign, str) or not sign_ok(param, sign, app[CONFIG].logistics.salt):
        return _refuse("bad_sign", "签名错误", remote=request.remote)
    try:
        trace = parse_push(param)
    except TraceInvalid as exc:
        return _refuse("malformed", "数据格式错误", error=str(exc))
    now = app[RESOURCES].clock.now()
    try:
        outcome = await run_blocking(app, apply_trace, trace, now, app[RULES])
    except Exception as exc:  # the database, or a bug: refuse (the provider pushes again), never a 500
        PUSHES.labels("error").inc()
        metrics.ERRORS.labels("logistics_notify", type(exc).__name__).inc()
        log.exception("could not store a tracking push", extra={"company": trace.company, "number": trace.number})
        return _answer({"result": False, "returnCode": "500", "message": "系统繁忙"})
    PUSHES.labels(outcome.value).inc()
    log.info("tracking push", extra={"company": trace.company, "number": trace.number, "outcome": outcome.value,
                                     "monitor": trace.monitor})  # fmt: skip
    return _answer(OK)
