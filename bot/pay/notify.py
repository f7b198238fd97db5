"""`POST /pay/notify`: WeChat Pay's payment notices (WECHAT.md §3.4).

Checked in this order, and anything that fails answers `return_code=FAIL` with a log line and a metric,
changing nothing: the MD5 signature (wechatpy's `parse_payment_result`, after defusedxml refuses DTDs and
entities), our appid and mch_id, a known order (`out_trade_no`), and `total_fee` equal to the order's amount.
A notice whose `result_code` is not SUCCESS (the payment failed) is acknowledged and changes nothing.
The payment opens the buyer's 48 h customer-service window (recorded first, in Redis, for the outbox's channel
choice). `store.orders.payments.mark_paid` then records the payment exactly once (duplicates and concurrent deliveries
included), with the buyer's `paid` notice in the outbox in the same transaction, and SUCCESS is written only
after that transaction has committed; a database error answers FAIL, so WeChat delivers again. A payment that
arrived after the order was cancelled queues its refund after the commit (`refund_payment`; the refund sweep
retries).
"""

from __future__ import annotations

import logging
from datetime import datetime

import peewee
import redis
from aiohttp import web
from prometheus_client import Counter
from wechatpy.pay.utils import dict_to_xml

from bot.jobs.queue import JOBS
from bot.pay.client import SHOP_RULES, NoticeInvalid, ensure_pay_client, ensure_shop_rules
from bot.process import metrics
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from scheduler.order_jobs import refund_job_id
from store.orders.payments import AmountMismatch, PaymentOutcome, PaymentResult, UnknownOrder, mark_paid

log = logging.getLogger("wxshop.pay")

NOTICES = Counter("wxshop_pay_notices_total", "WeChat Pay payment notices, by outcome", ["outcome"])


def setup_pay_notify(app: web.Application) -> None:
    ensure_pay_client(app)
    ensure_shop_rules(app)
    app.router.add_post("/pay/notify", pay_notify)


def _reply(code: str, message: str) -> web.Response:
    return web.Response(text=dict_to_xml({"return_code": code, "return_msg": message}), content_type="text/xml")


def _reject(reason: str, message: str, **context: object) -> web.Response:
    NOTICES.labels(reason).inc()
    metrics.REJECTED.labels(f"pay_notify_{reason}").inc()
    log.warning("payment notice rejected", extra={"reason": reason, **context})
    return _reply("FAIL", message)


async def pay_notify(request: web.Request) -> web.Response:
    app = request.app
    config = app[CONFIG]
    body = await request.read()
    try:
        data = await run_blocking(app, ensure_pay_client(app).parse_notice, body)
    except NoticeInvalid as exc:
        return _reject("bad_signature", "签名错误", error=str(exc), remote=request.remote)
    order_no = str(data.get("out_trade_no") or "")
    if data.get("appid") != config.wechat.app_id or data.get("mch_id") != config.pay.mch_id:
        return _reject("wrong_merchant", "商户信息不符", order_no=order_no, appid=data.get("appid"),
                       mch_id=data.get("mch_id"))  # fmt: skip
    if data.get("return_code") != "SUCCESS" or data.get("result_code") != "SUCCESS":
        NOTICES.labels("not_paid").inc()
        log.info("payment notice without a payment", extra={"order_no": order_no, "err_code": data.get("err_code")})
        return _reply("SUCCESS", "OK")
    transaction_id, total_fee = data.get("transaction_id"), data.get("total_fee")
    if not order_no or not transaction_id or not isinstance(total_fee, int):
        return _reject("incomplete", "参数不完整", order_no=order_no)
    now = app[RESOURCES].clock.now()
    await _open_payment_window(app, str(data.get("openid") or ""), now)
    try:
        result: PaymentResult = await run_blocking(
            app, mark_paid, order_no, str(transaction_id), total_fee, now, rules=app[SHOP_RULES].members,
            openid=str(data.get("openid") or ""), time_end=str(data.get("time_end") or ""),
        )  # fmt: skip
    except UnknownOrder:
        return _reject("unknown_order", "订单不存在", order_no=order_no)
    except AmountMismatch as exc:
        return _reject("wrong_amount", "金额不符", order_no=order_no, expected=exc.expected, got=exc.got)
    except peewee.DatabaseError:
        NOTICES.labels("error").inc()
        log.exception("could not record a payment notice", extra={"order_no": order_no})
        return _reply("FAIL", "系统繁忙")
    NOTICES.labels(result.outcome.value).inc()
    await _follow_up(app, result)
    if result.outcome is PaymentOutcome.REFUND:
        log.warning("payment for an order no longer unpaid: refunding", extra={"order_no": order_no,
                    "refund_no": result.refund_no})  # fmt: skip
    return _reply("SUCCESS", "OK")


async def _open_payment_window(app: web.Application, openid: str, now: datetime) -> None:
    """A verified payment opens the buyer's unlimited 48 h customer-service window; recorded before the payment
    commits, so notices queued by it find the window open. Losing it only makes them template messages."""
    if not openid:
        return
    try:
        await app[RESOURCES].windows.record_now(openid, "payment", now)
    except redis.RedisError as exc:
        metrics.ERRORS.labels("cs_window", type(exc).__name__).inc()
        log.warning("payment window not recorded", extra={"error": repr(exc)})


async def _follow_up(app: web.Application, result: PaymentResult) -> None:
    """After the commit. Best effort: a refund missed here is picked up by the refund sweep."""
    jobs = app.get(JOBS)
    if jobs is None:
        return
    if result.outcome is PaymentOutcome.REFUND and result.refund_no:
        await jobs.enqueue("refund_payment", result.refund_no, _job_id=refund_job_id(result.refund_no))
