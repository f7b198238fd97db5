"""The WeChat Pay v2 emulator, driven by the real client (wechatpy's WeChatPay) over loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from wechatpy.exceptions import InvalidSignatureException, WeChatPayException
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import dict_to_xml

from bot.sandbox.pay import DEFAULT_NOTIFY_SCHEDULE, PayEmulator, create_pay_app
from bot.sandbox.pay_xml import parse_xml, render_xml, sign
from store.core.clock import SHANGHAI, ManualClock

APPID = "wx5f6a7b8c9d0e1f2a"
MCH_ID = "1900000109"
API_KEY = "0123456789abcdef0123456789ABCDEF"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@dataclass
class Receiver:
    """A merchant notify endpoint that verifies notices with wechatpy; `script` sets how it answers."""

    wxpay: WeChatPay
    expected_fee: int = 0
    script: list[str] = field(default_factory=list)
    verified: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        mode = self.script.pop(0) if self.script else "ok"
        self.arrived.set()
        if mode == "http500":
            return web.Response(status=500, text="boom")
        if mode == "not-xml":
            return web.Response(text="success")
        if mode == "slow":
            await asyncio.sleep(5)
        try:
            data = self.wxpay.parse_payment_result(body)
        except InvalidSignatureException:
            self.rejected += 1
            return web.Response(text=dict_to_xml({"return_code": "FAIL", "return_msg": "签名失败"}))
        if self.expected_fee and data["total_fee"] != self.expected_fee:
            self.rejected += 1
            return web.Response(text=dict_to_xml({"return_code": "FAIL", "return_msg": "金额不符"}))
        self.verified.append(data)
        code = "FAIL" if mode == "fail" else "SUCCESS"
        return web.Response(text=dict_to_xml({"return_code": code, "return_msg": "OK"}), content_type="text/xml")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
def paid_log() -> list[tuple[str, datetime]]:
    return []


@pytest.fixture
def emulator(clock: ManualClock, paid_log: list[tuple[str, datetime]]) -> PayEmulator:
    return PayEmulator(appid=APPID, mch_id=MCH_ID, api_key=API_KEY, clock=clock,
                       on_paid=lambda openid, at: paid_log.append((openid, at)), notify_timeout=0.5)


@pytest.fixture
async def server(aiohttp_server: Callable[..., Awaitable[TestServer]], emulator: PayEmulator) -> TestServer:
    return await aiohttp_server(create_pay_app(emulator))


@pytest.fixture
def wxpay(server: TestServer) -> WeChatPay:
    pay = WeChatPay(APPID, API_KEY, MCH_ID, timeout=10)
    pay.API_BASE_URL = f"{str(server.make_url('')).rstrip('/')}/"
    return pay


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Awaitable[TestServer]], wxpay: WeChatPay) -> tuple[Receiver, str]:
    receiver = Receiver(WeChatPay(APPID, API_KEY, MCH_ID))
    app = web.Application()
    app.router.add_post("/pay/notify", receiver.handle)
    notify_server = await aiohttp_server(app)
    return receiver, str(notify_server.make_url("/pay/notify"))


def order_args(clock: ManualClock, notify_url: str, **extra: Any) -> dict[str, Any]:
    now = clock.now()
    args = dict(trade_type="JSAPI", body="红色连衣裙 M", total_fee=19900, notify_url=notify_url,
                client_ip="127.0.0.1", user_id=OPENID, out_trade_no="WX20261124000001", attach="order:1",
                time_start=now, time_expire=now + timedelta(minutes=30))
    return args | extra


async def create(wxpay: WeChatPay, **args: Any) -> dict[str, Any]:
    return await asyncio.to_thread(wxpay.order.create, **args)


async def call_fails(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> WeChatPayException:
    with pytest.raises(WeChatPayException) as caught:
        await asyncio.to_thread(fn, *args, **kwargs)
    return caught.value


async def raw_unified(server: TestServer, **fields: str) -> dict[str, str]:
    """POST a hand-built, correctly signed unifiedorder (for values wechatpy would not send)."""
    base = {"appid": APPID, "mch_id": MCH_ID, "nonce_str": "n0nce", "body": "x", "out_trade_no": "RAW1",
            "total_fee": "1", "spbill_create_ip": "127.0.0.1", "notify_url": "http://127.0.0.1/pay/notify",
            "trade_type": "JSAPI", "openid": OPENID}
    base.update(fields)
    base = {k: v for k, v in base.items() if v is not None}
    base["sign"] = sign(base, API_KEY)
    return await post_xml(server, "/pay/unifiedorder", render_xml(base))


async def post_xml(server: TestServer, path: str, body: str) -> dict[str, str]:
    async with ClientSession() as session, session.post(server.make_url(path), data=body.encode()) as response:
        assert response.status == 200
        return parse_xml(await response.read())


async def paid_order(server: TestServer, wxpay: WeChatPay, clock: ManualClock, notify_url: str, **extra: Any) -> str:
    created = await create(wxpay, **order_args(clock, notify_url, **extra))
    params = wxpay.jsapi.get_jsapi_params(created["prepay_id"])
    reply = await confirm(server, params)
    assert reply["err_msg"] == "get_brand_wcpay_request:ok", reply
    return reply["out_trade_no"]


async def confirm(server: TestServer, payload: dict[str, Any]) -> dict[str, Any]:
    async with ClientSession() as session, session.post(server.make_url("/sandbox/pay/confirm"), json=payload) as r:
        return await r.json()


# -- unified order ---------------------------------------------------------------------------------------------
async def test_unified_order_then_jsapi_payment(server: TestServer, wxpay: WeChatPay, emulator: PayEmulator,
                                                clock: ManualClock, paid_log: list) -> None:
    created = await create(wxpay, **order_args(clock, "http://127.0.0.1:9/pay/notify"))
    assert created["return_code"] == created["result_code"] == "SUCCESS"
    assert created["trade_type"] == "JSAPI" and created["prepay_id"].startswith("wx")
    assert wxpay.check_signature(dict(created)), "the reply is signed like WeChat's"

    params = wxpay.jsapi.get_jsapi_params(created["prepay_id"])
    assert params["package"] == f"prepay_id={created['prepay_id']}" and params["signType"] == "MD5"
    clock.advance(minutes=3)
    reply = await confirm(server, params)
    assert reply["err_msg"] == "get_brand_wcpay_request:ok"
    order = emulator.order("WX20261124000001")
    assert order.state == "SUCCESS" and order.paid_at == clock.now()
    assert paid_log == [(OPENID, clock.now())]


async def test_bad_signature_is_rejected(server: TestServer, clock: ManualClock) -> None:
    impostor = WeChatPay(APPID, "f" * 32, MCH_ID)
    impostor.API_BASE_URL = f"{str(server.make_url('')).rstrip('/')}/"
    error = await call_fails(impostor.order.create, **order_args(clock, "http://127.0.0.1/pay/notify"))
    assert (error.return_code, error.return_msg) == ("FAIL", "签名错误")


@pytest.mark.parametrize(("fields", "message"), [
    ({"body": None}, "缺少参数body"),
    ({"spbill_create_ip": None}, "缺少参数spbill_create_ip"),
    ({"notify_url": None}, "缺少参数notify_url"),
    ({"openid": None}, "JSAPI支付必须传openid"),
    ({"total_fee": "1.50"}, "invalid total_fee"),
    ({"total_fee": "0"}, "invalid total_fee"),
    ({"total_fee": "-1"}, "invalid total_fee"),
    ({"total_fee": "abc"}, "invalid total_fee"),
    ({"out_trade_no": "bad#no"}, "out_trade_no参数格式错误"),
    ({"notify_url": "http://127.0.0.1/notify?order=1"}, "invalid notify_url"),
    ({"spbill_create_ip": "not-an-ip"}, "spbill_create_ip参数格式错误"),
    ({"time_start": "20261124100000", "time_expire": "20261124100200"},
     "time_expire时间过短，刷卡至少1分钟，其他5分钟"),
])
async def test_unified_order_validates_like_wechat(server: TestServer, fields: dict, message: str) -> None:
    reply = await raw_unified(server, **fields)
    assert reply == {"return_code": "FAIL", "return_msg": message}


async def test_request_level_rejections(server: TestServer) -> None:
    assert (await post_xml(server, "/pay/unifiedorder", "not xml"))["return_msg"] == "XML格式错误"
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><appid>&a;</appid></xml>'
    assert (await post_xml(server, "/pay/unifiedorder", bomb))["return_msg"] == "XML格式错误"
    unsigned = render_xml({"appid": APPID, "mch_id": MCH_ID, "nonce_str": "n"})
    assert (await post_xml(server, "/pay/orderquery", unsigned))["return_msg"] == "缺少参数sign"
    other_app = await raw_unified(server, appid="wx0000000000000000")
    assert (other_app["result_code"], other_app["err_code"]) == ("FAIL", "APPID_MCHID_NOT_MATCH")
    native = await raw_unified(server, trade_type="NATIVE")
    assert native["err_code"] == "NOAUTH"


async def test_out_trade_no_reuse_rules(server: TestServer, wxpay: WeChatPay, clock: ManualClock) -> None:
    args = order_args(clock, "http://127.0.0.1/pay/notify", time_expire=clock.now() + timedelta(hours=3))
    first = await create(wxpay, **args)
    clock.advance(seconds=30)  # wechatpy's own retry: new nonce and times, same order
    again = await create(wxpay, **(args | {"time_start": clock.now()}))
    assert again["prepay_id"] == first["prepay_id"]

    changed = await call_fails(wxpay.order.create, **(args | {"total_fee": 100}))
    assert (changed.return_code, changed.errcode) == ("SUCCESS", "OUT_TRADE_NO_USED")

    clock.advance(hours=2)  # prepay_id validity over: the same order gets a fresh prepay_id
    renewed = await create(wxpay, **args)
    assert renewed["prepay_id"] != first["prepay_id"]

    assert (await confirm(server, wxpay.jsapi.get_jsapi_params(first["prepay_id"])))["err_desc"] == "prepay_id已失效"
    assert (await confirm(server, wxpay.jsapi.get_jsapi_params(renewed["prepay_id"])))["err_msg"].endswith(":ok")
    paid = await call_fails(wxpay.order.create, **args)
    assert paid.errcode == "ORDERPAID"


async def test_query_and_close(server: TestServer, wxpay: WeChatPay, clock: ManualClock) -> None:
    await create(wxpay, **order_args(clock, "http://127.0.0.1/pay/notify", out_trade_no="A1"))
    unpaid = await asyncio.to_thread(wxpay.order.query, out_trade_no="A1")
    assert (unpaid["trade_state"], unpaid["trade_state_desc"], unpaid["total_fee"]) == ("NOTPAY", "订单未支付", "19900")

    closed = await asyncio.to_thread(wxpay.order.close, "A1")
    assert closed["result_code"] == "SUCCESS"
    assert (await asyncio.to_thread(wxpay.order.query, out_trade_no="A1"))["trade_state"] == "CLOSED"
    assert (await call_fails(wxpay.order.close, "A1")).errcode == "ORDERCLOSED"
    reopened = await call_fails(wxpay.order.create, **order_args(clock, "http://127.0.0.1/n", out_trade_no="A1"))
    assert reopened.errcode == "ORDERCLOSED"
    assert (await call_fails(wxpay.order.query, out_trade_no="NOPE")).errcode == "ORDERNOTEXIST"
    assert (await call_fails(wxpay.order.close, "NOPE")).errcode == "ORDERNOTEXIST"

    out_trade_no = await paid_order(server, wxpay, clock, "http://127.0.0.1:9/pay/notify", out_trade_no="A2")
    paid = await asyncio.to_thread(wxpay.order.query, out_trade_no=out_trade_no)
    assert (paid["trade_state"], paid["openid"], paid["time_end"]) == ("SUCCESS", OPENID, "20261124100000")
    by_txn = await asyncio.to_thread(wxpay.order.query, transaction_id=paid["transaction_id"])
    assert by_txn["out_trade_no"] == "A2" and len(paid["transaction_id"]) == 28
    assert (await call_fails(wxpay.order.close, "A2")).errcode == "ORDERPAID"


async def test_refunds(server: TestServer, wxpay: WeChatPay, emulator: PayEmulator, clock: ManualClock) -> None:
    await create(wxpay, **order_args(clock, "http://127.0.0.1/n", out_trade_no="U1"))
    unpaid = await call_fails(wxpay.refund.apply, 19900, 100, "R0", out_trade_no="U1")
    assert unpaid.errcode == "ERROR"
    no = await paid_order(server, wxpay, clock, "http://127.0.0.1:9/n", out_trade_no="R1")

    part = await asyncio.to_thread(wxpay.refund.apply, 19900, 5000, "RF1", out_trade_no=no)
    assert (part["refund_fee"], part["out_refund_no"]) == ("5000", "RF1")
    same = await asyncio.to_thread(wxpay.refund.apply, 19900, 5000, "RF1", out_trade_no=no)
    assert same["refund_id"] == part["refund_id"], "out_refund_no makes the refund idempotent"
    assert (await call_fails(wxpay.refund.apply, 19900, 6000, "RF1", out_trade_no=no)).errcode == "REFUND_FEE_MISMATCH"
    over = await call_fails(wxpay.refund.apply, 19900, 15000, "RF2", out_trade_no=no)
    assert (over.errcode, over.errmsg) == ("REFUND_FEE_INVALID", "累计退款金额大于支付金额")
    assert (await call_fails(wxpay.refund.apply, 100, 50, "RF2", out_trade_no=no)).errcode == "PARAM_ERROR"
    rest = await asyncio.to_thread(wxpay.refund.apply, 19900, 14900, "RF2", out_trade_no=no)
    assert rest["result_code"] == "SUCCESS"
    assert (await call_fails(wxpay.refund.apply, 19900, 1, "RF3", out_trade_no=no)).errcode == "REFUND_FEE_INVALID"

    listed = await asyncio.to_thread(wxpay.refund.query, out_trade_no=no)
    assert listed["refund_count"] == "2"
    assert [listed["refund_fee_0"], listed["refund_fee_1"]] == ["5000", "14900"]
    assert listed["refund_status_0"] == "SUCCESS"
    one = await asyncio.to_thread(wxpay.refund.query, out_refund_no="RF2")
    assert (one["refund_count"], one["refund_id_0"]) == ("1", rest["refund_id"])
    assert (await asyncio.to_thread(wxpay.order.query, out_trade_no=no))["trade_state"] == "REFUND"
    assert (await call_fails(wxpay.refund.query, out_refund_no="NONE")).errcode == "REFUNDNOTEXIST"


async def test_full_refund_is_processing_until_the_delay_passes(
    server: TestServer, wxpay: WeChatPay, emulator: PayEmulator, clock: ManualClock
) -> None:
    emulator.ledger.refund_delay = timedelta(minutes=2)
    no = await paid_order(server, wxpay, clock, "http://127.0.0.1:9/n")
    await asyncio.to_thread(wxpay.refund.apply, 19900, 19900, "FULL", out_trade_no=no)
    assert (await asyncio.to_thread(wxpay.refund.query, out_refund_no="FULL"))["refund_status_0"] == "PROCESSING"
    clock.advance(minutes=2)
    done = await asyncio.to_thread(wxpay.refund.query, out_refund_no="FULL")
    assert (done["refund_status_0"], done["refund_success_time_0"]) == ("SUCCESS", "2026-11-24 10:02:00")


async def test_payer_side_refusals(server: TestServer, wxpay: WeChatPay, emulator: PayEmulator,
                                   clock: ManualClock) -> None:
    created = await create(wxpay, **order_args(clock, "http://127.0.0.1/n"))
    params = wxpay.jsapi.get_jsapi_params(created["prepay_id"])
    assert (await confirm(server, params | {"paySign": "0" * 32}))["err_desc"] == "支付验证签名失败"
    assert (await confirm(server, params | {"openid": "someone-else"}))["err_desc"] == "支付用户与下单用户不一致"
    assert (await confirm(server, params | {"action": "cancel"}))["err_msg"] == "get_brand_wcpay_request:cancel"
    clock.advance(minutes=31)
    assert (await confirm(server, params))["err_desc"] == "订单已过期"
    assert emulator.order("WX20261124000001").state == "NOTPAY"
    assert emulator.notices.deliveries == []


# -- payment notices -------------------------------------------------------------------------------------------
async def test_notice_is_verified_by_wechatpy(server: TestServer, wxpay: WeChatPay, emulator: PayEmulator,
                                              clock: ManualClock, receiver: tuple[Receiver, str]) -> None:
    merchant, url = receiver
    no = await paid_order(server, wxpay, clock, url)
    [attempt] = await emulator.deliver_due()
    assert attempt.ok and attempt.number == 0 and "SUCCESS" in attempt.reply
    [data] = merchant.verified
    assert data["out_trade_no"] == no and data["total_fee"] == 19900 and data["cash_fee"] == 19900
    assert (data["openid"], data["attach"], data["time_end"]) == (OPENID, "order:1", "20261124100000")
    assert (data["result_code"], data["trade_type"], data["is_subscribe"], data["fee_type"]) == (
        "SUCCESS", "JSAPI", "Y", "CNY")
    assert data["transaction_id"] == emulator.order(no).transaction_id
    assert await emulator.deliver_due() == [], "acknowledged: nothing more is sent"


async def test_retries_follow_the_schedule_and_stop_on_success(
    server: TestServer, wxpay: WeChatPay, emulator: PayEmulator, clock: ManualClock, receiver: tuple[Receiver, str]
) -> None:
    merchant, url = receiver
    merchant.script = ["fail", "http500", "not-xml", "fail"]
    no = await paid_order(server, wxpay, clock, url)
    paid_at = clock.now()
    for gap in DEFAULT_NOTIFY_SCHEDULE[:4]:
        [failed] = await emulator.deliver_due()
        assert not failed.ok
        clock.advance(seconds=gap.total_seconds() - 1)
        assert await emulator.deliver_due() == [], "not due yet"
        clock.advance(seconds=1)
    [ok] = await emulator.deliver_due()
    assert ok.ok and ok.number == 4
    notice = emulator.notice_for(no)
    offsets = [a.at - paid_at for a in notice.attempts]
    assert offsets == [timedelta(0), timedelta(seconds=15), timedelta(seconds=30), timedelta(minutes=1),
                       timedelta(minutes=4)]
    assert [a.http_status for a in notice.attempts] == [200, 500, 200, 200, 200]
    clock.advance(days=2)
    assert await emulator.deliver_due() == [] and notice.acknowledged


async def test_notices_give_up_after_the_last_attempt(
    server: TestServer, wxpay: WeChatPay, emulator: PayEmulator, clock: ManualClock, receiver: tuple[Receiver, str]
) -> None:
    merchant, url = receiver
    merchant.script = ["fail"] * 20
    no = await paid_order(server, wxpay, clock, url)
    paid_at = clock.now()
    notice = emulator.notice_for(no)
    while notice.next_due is not None:
        clock.set(notice.next_due)
        [attempt] = await emulator.deliver_due()
        assert not attempt.ok
    assert len(notice.attempts) == 16 and notice.given_up
    assert notice.attempts[-1].at - paid_at == timedelta(hours=24, minutes=4)
    clock.advance(days=1)
    assert await emulator.deliver_due() == []


async def test_timeout_counts_as_a_failure(
    server: TestServer, wxpay: WeChatPay, emulator: PayEmulator, clock: ManualClock, receiver: tuple[Receiver, str]
) -> None:
    merchant, url = receiver
    merchant.script = ["slow"]
    no = await paid_order(server, wxpay, clock, url)
    [attempt] = await emulator.deliver_due()
    assert not attempt.ok and attempt.http_status is None and "Timeout" in (attempt.error or "")
    assert await emulator.deliver_next(no) is not None and emulator.notice_for(no).acknowledged


async def test_duplicates_are_delivered_concurrently(
    server: TestServer, wxpay: WeChatPay, emulator: PayEmulator, clock: ManualClock, receiver: tuple[Receiver, str]
) -> None:
    merchant, url = receiver
    no = await paid_order(server, wxpay, clock, url)
    attempts = await emulator.deliver_duplicates(no, copies=3)
    assert len(attempts) == 3 and all(a.ok and a.duplicate for a in attempts)
    assert {a.at for a in attempts} == {clock.now()}
    assert [d["transaction_id"] for d in merchant.verified] == [emulator.order(no).transaction_id] * 3


async def test_tampered_and_forged_notices(
    server: TestServer, wxpay: WeChatPay, emulator: PayEmulator, clock: ManualClock, receiver: tuple[Receiver, str]
) -> None:
    merchant, url = receiver
    merchant.expected_fee = 19900
    no = await paid_order(server, wxpay, clock, url)
    order = emulator.order(no)
    tampered = emulator.notice_xml(order, resign=False, total_fee=1)
    assert not (await emulator.send_raw(url, tampered)).ok
    forged = emulator.notice_xml(order, total_fee=1)  # correctly signed, wrong amount
    assert not (await emulator.send_raw(url, forged)).ok
    assert merchant.rejected == 2 and merchant.verified == []
    assert len(emulator.notices.extra_attempts) == 2
    assert "<total_fee>19900</total_fee>" in emulator.notice_for(no).text


async def test_hmac_orders_get_notices_without_sign_type(
    server: TestServer, wxpay: WeChatPay, emulator: PayEmulator, clock: ManualClock, receiver: tuple[Receiver, str]
) -> None:
    """The documented pitfall: wechatpy's parse_payment_result (MD5 only) rejects them."""
    merchant, url = receiver
    created = await create(wxpay, **order_args(clock, url, sign_type="HMAC-SHA256"))
    assert created["result_code"] == "SUCCESS"
    await confirm(server, {"prepay_id": created["prepay_id"]})
    [attempt] = await emulator.deliver_due()
    assert not attempt.ok and merchant.rejected == 1
    assert "sign_type" not in parse_xml(emulator.notice_for("WX20261124000001").payload)


async def test_background_delivery_for_the_demo(
    aiohttp_server: Callable[..., Awaitable[TestServer]], clock: ManualClock, receiver: tuple[Receiver, str]
) -> None:
    merchant, url = receiver
    emulator = PayEmulator(appid=APPID, mch_id=MCH_ID, api_key=API_KEY, clock=clock, auto_deliver=True,
                           poll_interval=30)
    server = await aiohttp_server(create_pay_app(emulator))
    pay = WeChatPay(APPID, API_KEY, MCH_ID)
    pay.API_BASE_URL = f"{str(server.make_url('')).rstrip('/')}/"
    await paid_order(server, pay, clock, url)
    await asyncio.wait_for(merchant.arrived.wait(), 5)  # woken by the payment, not by the poll interval
    for _ in range(100):
        if emulator.notice_for("WX20261124000001").acknowledged:
            break
        await asyncio.sleep(0)
    assert merchant.verified and emulator.notice_for("WX20261124000001").acknowledged


# -- injected trouble ------------------------------------------------------------------------------------------
async def test_injected_systemerror_and_http_errors(server: TestServer, wxpay: WeChatPay, emulator: PayEmulator,
                                                    clock: ManualClock) -> None:
    emulator.faults.fail_next("unifiedorder", 2, code="SYSTEMERROR", message="系统超时")
    args = order_args(clock, "http://127.0.0.1/n")
    for _ in range(2):
        error = await call_fails(wxpay.order.create, **args)
        assert (error.return_code, error.result_code, error.errcode) == ("SUCCESS", "FAIL", "SYSTEMERROR")
    assert (await create(wxpay, **args))["result_code"] == "SUCCESS"

    emulator.faults.fail_next("orderquery", code="", message="bad gateway", http_status=502)
    error = await call_fails(wxpay.order.query, out_trade_no="WX20261124000001")
    assert error.response.status_code == 502
    emulator.faults.set_latency(0.05, "orderquery")
    assert (await asyncio.to_thread(wxpay.order.query, out_trade_no="WX20261124000001"))["trade_state"] == "NOTPAY"


async def test_a_failing_on_paid_does_not_lose_the_notice(server: TestServer, wxpay: WeChatPay,
                                                           emulator: PayEmulator, clock: ManualClock) -> None:
    def broken(openid: str, at: datetime) -> None:
        raise RuntimeError("world is down")

    emulator.on_paid = broken
    created = await create(wxpay, **order_args(clock, "http://127.0.0.1:9/n"))
    with pytest.raises(RuntimeError):
        emulator.pay(created["prepay_id"])
    assert emulator.notice_for("WX20261124000001").next_due == clock.now()


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="32 characters"):
        PayEmulator(appid=APPID, mch_id=MCH_ID, api_key="short")


async def test_prepay_info_for_the_pay_page(server: TestServer, wxpay: WeChatPay, clock: ManualClock) -> None:
    created = await create(wxpay, **order_args(clock, "http://127.0.0.1/n"))
    async with ClientSession() as session:
        async with session.get(server.make_url(f"/sandbox/pay/prepay/{created['prepay_id']}")) as r:
            assert await r.json() == {"out_trade_no": "WX20261124000001", "body": "红色连衣裙 M", "total_fee": 19900,
                                      "openid": OPENID, "trade_state": "NOTPAY", "transaction_id": None}
        async with session.get(server.make_url("/sandbox/pay/prepay/wxnope")) as r:
            assert r.status == 404
