"""A local WeChat Pay API v2 (MD5 / HMAC-SHA256 signing) that wechatpy's unmodified `WeChatPay` talks to.

Point `WeChatPay.API_BASE_URL` at the app built by `create_pay_app`. It serves `pay/unifiedorder`,
`pay/orderquery`, `pay/closeorder`, `secapi/pay/refund` and `pay/refundquery`, and the sandbox-only
`/sandbox/pay/...` endpoints the H5 pay page uses in place of WeixinJSBridge. A confirmed payment marks the
order paid at `clock.now()`, calls `on_paid(openid, at)` (the 48 h customer-service window opens), and queues
the signed payment notice to the order's `notify_url`, retried per `notify_schedule` until the merchant
answers `return_code=SUCCESS`. Choices where WeChat's behaviour is unconfirmed are listed in `create_pay_app`.

Wiring: `PayEmulator(appid=…, mch_id=…, api_key=…, clock=clock,
on_paid=lambda openid, at: world.record_interaction(openid, "payment", at))`, served by `create_pay_app`
(or `setup_pay` on an existing app). Tests drive notices with `deliver_due`, `deliver_next`,
`deliver_duplicates`, `notice_xml(order, **forged)` + `send_raw`; the demo sets `auto_deliver=True`
(and may pass `courier.compress(DEFAULT_NOTIFY_SCHEDULE, factor)`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta

from aiohttp import web

from bot.sandbox import pay_http
from bot.sandbox.courier import Attempt, Courier, Delivery
from bot.sandbox.fault_plan import FaultPlan
from bot.sandbox.pay_ledger import PayLedger, PayOrder
from bot.sandbox.pay_xml import XmlFormatError, nonce, parse_xml, render_xml, sign, signed
from store.core.clock import Clock, process_clock

DEFAULT_NOTIFY_SCHEDULE: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s)
    for s in (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600)
)
"""Gaps between notice attempts (WECHAT.md §3.4): the first POST at payment, then 15 retries over 24 h 4 min."""

OnPaid = Callable[[str, datetime], None]


def _notice_acknowledged(status: int, body: str) -> bool:
    """WeChat stops notifying only on HTTP 2xx with an XML body whose return_code is SUCCESS."""
    if not 200 <= status < 300:
        return False
    try:
        return parse_xml(body.encode("utf-8")).get("return_code") == "SUCCESS"
    except XmlFormatError:
        return False


class PayEmulator:
    """The emulated merchant account: orders, payer confirmations, notices, and the test hooks over them."""

    def __init__(
        self,
        *,
        appid: str,
        mch_id: str,
        api_key: str,
        clock: Clock | None = None,
        on_paid: OnPaid | None = None,
        notify_schedule: Sequence[timedelta] = DEFAULT_NOTIFY_SCHEDULE,
        notify_timeout: float = 5.0,
        auto_deliver: bool = False,
        poll_interval: float = 1.0,
        refund_delay: timedelta = timedelta(0),
    ) -> None:
        if len(api_key) != 32:
            raise ValueError("a WeChat Pay API key is 32 characters")
        self.appid = appid
        self.mch_id = mch_id
        self.api_key = api_key
        self.clock: Clock = clock or process_clock()
        self.on_paid = on_paid
        self.ledger = PayLedger(refund_delay)
        self.notices = Courier(self.clock, notify_schedule, notify_timeout, _notice_acknowledged)
        self.faults = FaultPlan()
        self.auto_deliver = auto_deliver
        self.poll_interval = poll_interval

    # -- the payer's side ------------------------------------------------------------------------------
    def pay(
        self, prepay_id: str, *, openid: str | None = None, is_subscribe: bool = True, bank_type: str = "OTHERS"
    ) -> PayOrder:
        """The payer confirmed in WeChat: the order is paid now and its notice is queued (raises PayRefused)."""
        now = self.clock.now()
        order = self.ledger.pay(prepay_id, now, openid)
        order.is_subscribe = is_subscribe
        order.bank_type = bank_type
        self.notices.enqueue(order.out_trade_no, order.notify_url, self.notice_xml(order).encode(), "text/xml")
        if self.on_paid is not None:  # after queueing: the payment happened whatever the callback does
            self.on_paid(order.openid, now)
        return order

    def jsapi_sign(self, params: dict[str, str]) -> str:
        """The paySign WeChat expects for getBrandWCPayRequest's appId/timeStamp/nonceStr/package/signType."""
        keys = ("appId", "timeStamp", "nonceStr", "package", "signType")
        return sign({k: params.get(k, "") for k in keys}, self.api_key, params.get("signType") or "MD5")

    # -- notices ---------------------------------------------------------------------------------------
    def notice_fields(self, order: PayOrder) -> dict[str, str | int | None]:
        """The payment notice's fields, unsigned (WECHAT.md §3.4)."""
        return {
            "return_code": "SUCCESS",
            "appid": self.appid,
            "mch_id": self.mch_id,
            "nonce_str": nonce(),
            "result_code": "SUCCESS",
            **order.payment_fields(),
        }

    def notice_xml(self, order: PayOrder, *, resign: bool = True, **overrides: str | int | None) -> str:
        """The notice as WeChat sends it; `overrides` forge fields (re-signed unless `resign=False`).

        Signed with the order's sign_type; like WeChat (WECHAT.md §3.4 pitfall) `sign_type` itself is not sent.
        """
        fields = self.notice_fields(order)
        good_sign = sign(fields, self.api_key, order.sign_type)
        fields.update(overrides)
        fields["sign"] = sign(fields, self.api_key, order.sign_type) if resign else good_sign
        return render_xml(fields, sort=True)

    def notice_for(self, out_trade_no: str) -> Delivery:
        """The (latest) queued notice of an order."""
        found = self.notices.for_key(out_trade_no)
        if not found:
            raise LookupError(f"no payment notice for {out_trade_no}")
        return found[-1]

    async def deliver_due(self) -> list[Attempt]:
        """Send every notice attempt that is due by the clock (tests advance a ManualClock, then call this)."""
        return await self.notices.deliver_due()

    async def deliver_next(self, out_trade_no: str) -> Attempt:
        """Send the order's next scheduled notice attempt now, ignoring its due time."""
        return await self.notices.deliver_next(self.notice_for(out_trade_no))

    async def deliver_duplicates(self, out_trade_no: str, copies: int = 2) -> list[Attempt]:
        """Send the next attempt `copies` times concurrently, as WeChat's several notifying servers do."""
        return await self.notices.deliver_duplicates(self.notice_for(out_trade_no), copies)

    async def send_raw(self, url: str, xml: str) -> Attempt:
        """POST any (tampered, forged) notice body once to `url`, recorded in `notices.extra_attempts`."""
        return await self.notices.send_once(url, xml.encode("utf-8"), "text/xml")

    def order(self, out_trade_no: str) -> PayOrder:
        return self.ledger.orders[out_trade_no]

    # -- replies ---------------------------------------------------------------------------------------
    def fail_reply(self, return_msg: str) -> str:
        return render_xml({"return_code": "FAIL", "return_msg": return_msg})

    def signed_reply(self, sign_type: str, result: dict[str, str | int | None]) -> str:
        """A business reply: WeChat's header fields, the result, and the signature."""
        head: dict[str, str | int | None] = {
            "return_code": "SUCCESS", "return_msg": "OK", "appid": self.appid, "mch_id": self.mch_id,
            "nonce_str": nonce(),
        }
        return render_xml(signed(head | result, self.api_key, sign_type))

    # -- lifecycle -------------------------------------------------------------------------------------
    async def lifespan(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx: the one HTTP session for notices and, in the demo, the background notifier."""
        async with self.notices.serving(self.poll_interval, self.auto_deliver):
            yield


PAY_EMULATOR = web.AppKey("pay_emulator", PayEmulator)


def setup_pay(app: web.Application, emulator: PayEmulator) -> None:
    """Serve `emulator` from `app` (its routes, its session in cleanup_ctx)."""
    app[PAY_EMULATOR] = emulator
    pay_http.add_routes(app.router, emulator)
    app.cleanup_ctx.append(emulator.lifespan)


def create_pay_app(emulator: PayEmulator) -> web.Application:
    """A stand-alone WeChat Pay v2 server; set `WeChatPay.API_BASE_URL` to its base URL plus "/".

    Decisions where WeChat's real behaviour is unconfirmed (WECHAT.md §3, §7):
    * Request-level faults (bad XML, missing or ill-formed parameter, wrong signature) answer
      `return_code=FAIL` + `return_msg` ("签名错误", "invalid total_fee", "缺少参数body"), unsigned; business
      refusals answer `result_code=FAIL` + `err_code` (ORDERPAID, OUT_TRADE_NO_USED, …), signed.
    * unifiedorder retries: the same out_trade_no with the same parameters returns the same prepay_id (a new
      one once the 2 h prepay validity has passed); nonce_str, sign, sign_type, spbill_create_ip, time_start
      and time_expire are not compared (wechatpy fills the times from the wall clock on every call).
    * `time_expire` is enforced against the emulator's clock: pass it (and time_start) from the product clock.
    * notify_url must be http(s) without a query string; only trade_type=JSAPI is enabled (others: NOAUTH).
    * Refunds need no client certificate here (WeChat requires one); they succeed after `refund_delay`
      (PROCESSING until then); error codes for over-refund and unpaid orders are REFUND_FEE_INVALID and ERROR.
    * Notices: first POST at payment, retries after the gaps of `notify_schedule`; acknowledged only by HTTP 2xx
      whose XML has return_code SUCCESS; per-attempt timeout `notify_timeout` seconds.
    """
    app = web.Application()
    setup_pay(app, emulator)
    return app
