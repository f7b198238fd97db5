"""WeChat Pay v2 through wechatpy's `WeChatPay` (MD5 signing), pointed at `[pay] api_base_url`: the pay page's
unified order and JSAPI parameters, the notify endpoint's signature check, and `store.orders.payments.PayGateway` for
jobs and the admin API (order query, close, refund, refund query).

Every call blocks (requests): call it on a handler or job thread. Each call builds its own `WeChatPay`, so
threads never share a `requests.Session`. Errors come back as `store.orders.payments.PayError`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import requests
from aiohttp import web
from defusedxml import ElementTree
from wechatpy.exceptions import InvalidSignatureException, WeChatPayException
from wechatpy.pay import WeChatPay

from bot.process.config import Config
from bot.web.runtime import CONFIG
from store.orders.checkout import ShopRules
from store.orders.payments import PayError, TradeState

log = logging.getLogger("wxshop.pay")

WECHAT_TIME = "%Y%m%d%H%M%S"


class NoticeInvalid(Exception):
    """A payment notice that is not well-formed, signed XML from WeChat Pay."""


class WeChatPayClient:
    def __init__(self, config: Config) -> None:
        self.appid = config.wechat.app_id
        self.mch_id = config.pay.mch_id
        self.api_key = config.pay.api_key
        self.base_url = config.pay.api_base_url.rstrip("/") + "/"
        self.timeout = config.wechat.timeout_s
        self.cert = (config.pay.cert_path or None, config.pay.key_path or None)

    def _pay(self) -> WeChatPay:
        cert, key = self.cert
        pay = WeChatPay(self.appid, self.api_key, self.mch_id, mch_cert=cert, mch_key=key, timeout=self.timeout)
        pay.API_BASE_URL = self.base_url
        return pay

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return fn(*args, **kwargs)
        except WeChatPayException as exc:
            code = exc.errcode or (exc.return_msg if exc.return_code == "FAIL" else None)
            raise PayError(code, str(exc.errmsg or exc.return_msg or exc)) from None
        except requests.RequestException as exc:
            raise PayError(None, f"{what}: {exc}") from None

    # -- the pay page ------------------------------------------------------------------------------------------
    def unified_order(
        self, *, order_no: str, body: str, total_fee: int, openid: str, client_ip: str, notify_url: str,
        time_start: datetime, time_expire: datetime,
    ) -> str:  # fmt: skip
        """统一下单 (JSAPI); returns the prepay_id. Times come from our clock, never wechatpy's wall clock."""
        pay = self._pay()
        result = self._call(
            "unifiedorder", pay.order.create, trade_type="JSAPI", body=body[:127], total_fee=total_fee,
            notify_url=notify_url, client_ip=client_ip, user_id=openid, out_trade_no=order_no,
            time_start=time_start, time_expire=time_expire, device_info="WEB",
        )  # fmt: skip
        return str(result["prepay_id"])

    def jsapi_params(self, prepay_id: str, now: datetime) -> dict[str, str]:
        """getBrandWCPayRequest's parameters (appId, timeStamp, nonceStr, package, signType, paySign)."""
        return self._pay().jsapi.get_jsapi_params(prepay_id, timestamp=str(int(now.timestamp())))

    # -- the notify endpoint -------------------------------------------------------------------------------------
    def parse_notice(self, body: bytes) -> dict[str, Any]:
        """Verify the notice's MD5 signature (wechatpy) after refusing DTDs and entities (defusedxml)."""
        try:
            ElementTree.fromstring(body)  # raises on DTDs, entities and malformed XML
            return self._pay().parse_payment_result(body.decode("utf-8"))
        except InvalidSignatureException:
            raise NoticeInvalid("bad signature") from None
        except Exception as exc:  # ParseError, DTDForbidden, EntitiesForbidden, UnicodeDecodeError, ...
            raise NoticeInvalid(f"not a notice: {type(exc).__name__}") from None

    # -- store.orders.payments.PayGateway -----------------------------------------------------------------------------
    def query_order(self, order_no: str) -> TradeState:
        try:
            result = self._call("orderquery", self._pay().order.query, out_trade_no=order_no)
        except PayError as exc:
            if exc.code == "ORDERNOTEXIST":
                return TradeState("NOTFOUND")
            raise
        fee = result.get("total_fee")
        return TradeState(
            str(result.get("trade_state", "")), result.get("transaction_id") or None,
            int(fee) if fee not in (None, "") else None, str(result.get("time_end") or ""),
        )  # fmt: skip

    def close_order(self, order_no: str) -> None:
        self._call("closeorder", self._pay().order.close, order_no)

    def refund(self, order_no: str, refund_no: str, total_fee: int, refund_fee: int, reason: str) -> str:
        result = self._call(
            "refund", self._pay().refund.apply, total_fee, refund_fee, refund_no, out_trade_no=order_no,
            refund_desc=reason or None,
        )  # fmt: skip
        return str(result.get("refund_id", ""))

    def refund_status(self, refund_no: str) -> str:
        result = self._call("refundquery", self._pay().refund.query, out_refund_no=refund_no)
        return str(result.get("refund_status_0", "PROCESSING"))


PAY_CLIENT = web.AppKey("pay_client", WeChatPayClient)
SHOP_RULES = web.AppKey("shop_rules", ShopRules)


def ensure_shop_rules(app: web.Application) -> ShopRules:
    """Checkout's `[shop]` rules, read from config once per app."""
    if SHOP_RULES not in app:
        app[SHOP_RULES] = ShopRules.from_settings(app[CONFIG].shop)
    return app[SHOP_RULES]


def ensure_pay_client(app: web.Application) -> WeChatPayClient:
    """The app's one pay client (stateless: it builds a wechatpy client per call), made at setup time."""
    if PAY_CLIENT not in app:
        app[PAY_CLIENT] = WeChatPayClient(app[CONFIG])
    return app[PAY_CLIENT]
