"""HTTP endpoints of the WeChat Pay v2 emulator: the merchant API (XML) and the sandbox payer API (JSON).

Every merchant call is authenticated like WeChat does it (appid, mch_id, nonce_str, sign; the signature
checked for the declared sign_type) before any rule runs; nothing the client says is trusted unchecked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox.pay_ledger import TRADE_STATE_DESC, BizError, PayOrder, PayRefused, Refund, ReturnFail
from bot.sandbox.pay_xml import SIGN_TYPES, XmlFormatError, parse_xml, verify

if TYPE_CHECKING:
    from bot.sandbox.pay import PayEmulator

Result = dict[str, str | int | None]
Operation = Callable[[dict[str, str]], Result]


def add_routes(router: web.UrlDispatcher, emulator: PayEmulator) -> None:
    api = PayApi(emulator)
    for path, endpoint, operation in (
        ("/pay/unifiedorder", "unifiedorder", api.unified_order),
        ("/pay/orderquery", "orderquery", api.order_query),
        ("/pay/closeorder", "closeorder", api.close_order),
        ("/secapi/pay/refund", "refund", api.refund),
        ("/pay/refundquery", "refundquery", api.refund_query),
    ):
        router.add_post(path, api.endpoint(endpoint, operation))
    router.add_get("/sandbox/pay/prepay/{prepay_id}", api.prepay_info)
    router.add_post("/sandbox/pay/confirm", api.confirm)


def _xml(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/xml", charset="utf-8")


class PayApi:
    def __init__(self, emulator: PayEmulator) -> None:
        self.emulator = emulator

    def endpoint(self, name: str, operation: Operation) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Wrap a business operation with WeChat's envelope: faults, parsing, authentication, signed reply."""

        async def handle(request: web.Request) -> web.Response:
            emulator = self.emulator
            await emulator.faults.delay(name)
            fault = emulator.faults.take(name)
            if fault is not None and fault.http_status is not None:
                return web.Response(status=fault.http_status, text=fault.message)
            sign_type = "MD5"
            try:
                fields = parse_xml(await request.read())
                sign_type = self.authenticate(fields)
                if fault is not None:
                    raise BizError(fault.code, fault.message)
                result: Result = {"result_code": "SUCCESS", **operation(fields)}
            except (XmlFormatError, ReturnFail) as exc:
                return _xml(emulator.fail_reply(exc.return_msg))
            except BizError as exc:
                result = {"result_code": "FAIL", "err_code": exc.err_code, "err_code_des": exc.err_code_des}
            return _xml(emulator.signed_reply(sign_type, result))

        return handle

    def authenticate(self, fields: dict[str, str]) -> str:
        """Check the envelope and signature; returns the sign_type the reply is signed with."""
        for name in ("appid", "mch_id", "nonce_str", "sign"):
            if not fields.get(name):
                raise ReturnFail(f"缺少参数{name}")
        sign_type = fields.get("sign_type") or "MD5"
        if sign_type not in SIGN_TYPES:
            raise ReturnFail("sign_type参数格式错误")
        if not verify(fields, self.emulator.api_key):
            raise ReturnFail("签名错误")
        if fields["appid"] != self.emulator.appid or fields["mch_id"] != self.emulator.mch_id:
            raise BizError("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        return sign_type

    # -- merchant API ----------------------------------------------------------------------------------
    def unified_order(self, fields: dict[str, str]) -> Result:
        order = self.emulator.ledger.unified_order(fields, self.emulator.clock.now())
        return {"openid": order.openid, "prepay_id": order.prepay_id, "trade_type": order.trade_type}

    def order_query(self, fields: dict[str, str]) -> Result:
        order = self.emulator.ledger.find(fields)
        described: Result = {"trade_state": order.state, "trade_state_desc": TRADE_STATE_DESC[order.state]}
        if order.paid:
            return order.payment_fields() | described
        return {"out_trade_no": order.out_trade_no, "total_fee": order.total_fee,
                "attach": order.attach or None} | described

    def close_order(self, fields: dict[str, str]) -> Result:
        self.emulator.ledger.close(fields)
        return {"result_msg": "OK"}

    def refund(self, fields: dict[str, str]) -> Result:
        order, refund = self.emulator.ledger.refund(fields, self.emulator.clock.now())
        return {
            "transaction_id": order.transaction_id, "out_trade_no": order.out_trade_no,
            "out_refund_no": refund.out_refund_no, "refund_id": refund.refund_id, "refund_fee": refund.refund_fee,
            "total_fee": order.total_fee, "cash_fee": order.total_fee, "cash_refund_fee": refund.refund_fee,
            "coupon_refund_fee": 0, "coupon_refund_count": 0,
        }

    def refund_query(self, fields: dict[str, str]) -> Result:
        order, refunds = self.emulator.ledger.refunds_for(fields)
        result: Result = {
            "transaction_id": order.transaction_id, "out_trade_no": order.out_trade_no,
            "total_fee": order.total_fee, "cash_fee": order.total_fee, "refund_count": len(refunds),
        }
        for n, refund in enumerate(refunds):
            result |= self._refund_fields(n, refund)
        return result

    def _refund_fields(self, n: int, refund: Refund) -> Result:
        status = refund.status(self.emulator.clock.now())
        return {
            f"out_refund_no_{n}": refund.out_refund_no, f"refund_id_{n}": refund.refund_id,
            f"refund_channel_{n}": "ORIGINAL", f"refund_fee_{n}": refund.refund_fee,
            f"refund_status_{n}": status, f"refund_account_{n}": "REFUND_SOURCE_UNSETTLED_FUNDS",
            f"refund_recv_accout_{n}": "支付用户的零钱",
            f"refund_success_time_{n}": refund.succeeds_at.strftime("%Y-%m-%d %H:%M:%S")
            if status == "SUCCESS" else None,
        }

    # -- the payer's WeChat (sandbox only) ---------------------------------------------------------------
    async def prepay_info(self, request: web.Request) -> web.Response:
        """What the sandbox pay page shows before the payer confirms."""
        try:
            order = self.emulator.ledger.by_prepay(request.match_info["prepay_id"])
        except PayRefused as exc:
            return web.json_response({"error": str(exc)}, status=404)
        return web.json_response(_describe(order))

    async def confirm(self, request: web.Request) -> web.Response:
        """getBrandWCPayRequest, emulated: JSON with the JSAPI params (paySign verified) or a bare prepay_id.

        `action` is "pay" (default), "cancel" or "fail"; the answer carries WeixinJSBridge's `err_msg`.
        """
        try:
            data: dict[str, Any] = await request.json()
            if not isinstance(data, dict):
                raise ValueError("a JSON object is expected")
            prepay_id = self._prepay_id(data)
        except ValueError as exc:
            return web.json_response({"err_msg": "get_brand_wcpay_request:fail", "err_desc": str(exc)}, status=400)
        action = data.get("action", "pay")
        if action != "pay":
            outcome = "cancel" if action == "cancel" else "fail"
            return web.json_response({"err_msg": f"get_brand_wcpay_request:{outcome}"})
        try:
            order = self.emulator.pay(prepay_id, openid=data.get("openid"),
                                      is_subscribe=bool(data.get("is_subscribe", True)))
        except PayRefused as exc:
            return web.json_response({"err_msg": "get_brand_wcpay_request:fail", "err_desc": str(exc)})
        return web.json_response({"err_msg": "get_brand_wcpay_request:ok", **_describe(order)})

    def _prepay_id(self, data: dict[str, Any]) -> str:
        if "package" not in data:
            prepay_id = data.get("prepay_id")
            if not isinstance(prepay_id, str) or not prepay_id:
                raise ValueError("prepay_id or the JSAPI parameters are required")
            return prepay_id
        params = {k: str(v) for k, v in data.items() if isinstance(v, str | int)}
        params.setdefault("timeStamp", params.get("timestamp", ""))
        if params.get("appId") != self.emulator.appid or params.get("signType", "MD5") not in SIGN_TYPES:
            raise ValueError("支付验证签名失败")
        if params.get("paySign", "") != self.emulator.jsapi_sign(params):
            raise ValueError("支付验证签名失败")
        package = params["package"]
        if not package.startswith("prepay_id="):
            raise ValueError("package参数格式错误")
        return package.removeprefix("prepay_id=")


def _describe(order: PayOrder) -> dict[str, Any]:
    return {
        "out_trade_no": order.out_trade_no, "body": order.body, "total_fee": order.total_fee,
        "openid": order.openid, "trade_state": order.state, "transaction_id": order.transaction_id or None,
    }
