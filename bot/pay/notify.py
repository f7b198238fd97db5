"""`POST /pay/notify`: WeChat Pay's payment notices (WECHAT.md §3.4), the HTTP side of handlers.pay_notice.

Here: the MD5 signature (wechatpy's `parse_payment_result`, after defusedxml refuses DTDs and entities), the
answer XML, metrics and logs. A verified payment opens the buyer's 48 h customer-service window: in Redis first
(the outbox's cache), then in the database with the payment (store.outbox.payment_windows), so Redis being away
costs nothing; SUCCESS is written only after that transaction has committed. A payment that arrived after the
order was cancelled queues its refund after the commit (`refund_payment`; the refund sweep retries).
"""

from __future__ import annotations

import logging
from datetime import datetime

import redis
from aiohttp import web
from prometheus_client import Counter
from wechatpy.pay.utils import dict_to_xml

from bot.jobs.queue import JOBS
from bot.pay.client import SHOP_RULES, NoticeInvalid, ensure_pay_client, ensure_shop_rules
from bot.process import metrics
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from handlers.pay_notice import NoticeVerdict, judge_notice, payer, record_payment, refuse
from scheduler.order_jobs import refund_job_id
from store.orders.payments import PaymentOutcome, PaymentResult

log = logging.getLogger("wxshop.pay")

NOTICES = Counter("wxshop_pay_notices_total", "WeChat Pay payment notices, by outcome", ["outcome"])


def setup_pay_notify(app: web.Application) -> None:
    ensure_pay_client(app)
    ensure_shop_rules(app)
    app.router.add_post("/pay/notify", pay_notify)


def _answer(verdict: NoticeVerdict) -> web.Response:
    NOTICES.labels(verdict.label).inc()
    if verdict.refused:
        metrics.REJECTED.labels(f"pay_notify_{verdict.label}").inc()
        log.warning("payment notice rejected", extra={"reason": verdict.label, **verdict.context})
    elif verdict.label == "error":
        log.error("could not record a payment notice", extra=verdict.context)
    elif verdict.label == "not_paid":
        log.info("payment notice without a payment", extra=verdict.context)
    code = "SUCCESS" if verdict.ok else "FAIL"
    return web.Response(text=dict_to_xml({"return_code": code, "return_msg": verdict.message}), content_type="text/xml")


async def pay_notify(request: web.Request) -> web.Response:
    app = request.app
    config = app[CONFIG]
    body = await request.read()
    try:
        data = await run_blocking(app, ensure_pay_client(app).parse_notice, body)
    except NoticeInvalid as exc:
        return _answer(refuse("bad_signature", "签名错误", error=str(exc), remote=request.remote))
    verdict = judge_notice(data, config.wechat.app_id, config.pay.mch_id)
    if verdict is not None:
        return _answer(verdict)
    now = app[RESOURCES].clock.now()
    await _open_payment_window(app, payer(data), now)
    verdict = await run_blocking(app, record_payment, data, now, app[SHOP_RULES].members)
    if verdict.result is not None:
        await _follow_up(app, verdict.result)
    return _answer(verdict)


async def _open_payment_window(app: web.Application, openid: str, now: datetime) -> None:
    """A verified payment opens the buyer's unlimited 48 h customer-service window; recorded before the payment
    commits, so notices queued by it find the window open. If Redis is away, the outbox finds the window in the
    database, written with the payment."""
    if not openid:
        return
    try:
        await app[RESOURCES].windows.record_now(openid, "payment", now)
    except redis.RedisError as exc:
        metrics.ERRORS.labels("cs_window", type(exc).__name__).inc()
        log.warning("payment window not recorded", extra={"error": repr(exc)})


async def _follow_up(app: web.Application, result: PaymentResult) -> None:
    """After the commit. Best effort: a refund missed here is picked up by the refund sweep."""
    if result.outcome is PaymentOutcome.REFUND:
        log.warning("payment for an order no longer unpaid: refunding", extra={"order_no": result.order_no,
                    "refund_no": result.refund_no})  # fmt: skip
    jobs = app.get(JOBS)
    if jobs is None:
        return
    if result.outcome is PaymentOutcome.REFUND and result.refund_no:
        await jobs.enqueue("refund_payment", result.refund_no, _job_id=refund_job_id(result.refund_no))
