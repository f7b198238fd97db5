"""The emulated merchant account's orders and refunds, and WeChat Pay v2's business rules over them.

Pure state changes taking `now`; the HTTP layer (`bot.sandbox.pay`) authenticates, parses and renders.
Two error kinds mirror WeChat's two levels: `ReturnFail` (the request itself is wrong: `return_code=FAIL`
with a `return_msg`, unsigned) and `BizError` (a business refusal: `result_code=FAIL` with `err_code`).
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from store.core.clock import SHANGHAI

PREPAY_TTL = timedelta(hours=2)
REFUND_PERIOD = timedelta(days=365)
MIN_VALIDITY = timedelta(minutes=5)
OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{1,32}")
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
FEE = re.compile(r"[1-9][0-9]{0,9}")
UNIFIED_REQUIRED = ("body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type")
# Fields that do not define *what* is bought, so a retry differing only in them is the same order.
NOT_IDENTITY = frozenset({"nonce_str", "sign", "sign_type", "spbill_create_ip", "time_start", "time_expire"})
OTHER_TRADE_TYPES = frozenset({"NATIVE", "APP", "MWEB", "MICROPAY"})
TRADE_STATE_DESC = {
    "SUCCESS": "支付成功",
    "REFUND": "订单发生过退款，退款详情请查询退款单",
    "NOTPAY": "订单未支付",
    "CLOSED": "订单已关闭",
}


class ReturnFail(Exception):
    """The request is malformed (missing or ill-formed parameter, bad signature): `return_code=FAIL`."""

    def __init__(self, return_msg: str) -> None:
        super().__init__(return_msg)
        self.return_msg = return_msg


class BizError(Exception):
    """WeChat refused the operation: `result_code=FAIL`, `err_code`, `err_code_des` (signed reply)."""

    def __init__(self, err_code: str, err_code_des: str) -> None:
        super().__init__(f"{err_code}: {err_code_des}")
        self.err_code = err_code
        self.err_code_des = err_code_des


class PayRefused(Exception):
    """The payer's WeChat refused to pay (what `getBrandWCPayRequest` reports as `:fail` with `err_desc`)."""


@dataclass
class Refund:
    out_refund_no: str
    refund_id: str
    refund_fee: int
    created_at: datetime
    succeeds_at: datetime

    def status(self, now: datetime) -> str:
        return "SUCCESS" if now >= self.succeeds_at else "PROCESSING"


@dataclass
class PayOrder:
    out_trade_no: str
    identity: dict[str, str]
    openid: str
    body: str
    total_fee: int
    notify_url: str
    trade_type: str
    sign_type: str
    created_at: datetime
    time_expire: datetime | None
    prepay_id: str
    prepay_issued_at: datetime
    attach: str = ""
    device_info: str = ""
    fee_type: str = "CNY"
    state: str = "NOTPAY"
    transaction_id: str = ""
    paid_at: datetime | None = None
    is_subscribe: bool = True
    bank_type: str = "OTHERS"
    refunds: list[Refund] = field(default_factory=list)

    @property
    def paid(self) -> bool:
        return self.state in ("SUCCESS", "REFUND")

    @property
    def refunded_fee(self) -> int:
        return sum(r.refund_fee for r in self.refunds)

    def payment_fields(self) -> dict[str, str | int | None]:
        """The paid order as orderquery and the payment notice describe it (empty when unpaid)."""
        if not self.paid or self.paid_at is None:
            return {}
        return {
            "device_info": self.device_info or None,
            "openid": self.openid,
            "is_subscribe": "Y" if self.is_subscribe else "N",
            "trade_type": self.trade_type,
            "bank_type": self.bank_type,
            "total_fee": self.total_fee,
            "fee_type": self.fee_type,
            "cash_fee": str(self.total_fee),
            "transaction_id": self.transaction_id,
            "out_trade_no": self.out_trade_no,
            "attach": self.attach or None,
            "time_end": self.paid_at.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S"),
        }


def _require(fields: dict[str, str], *names: str) -> None:
    for name in names:
        if not fields.get(name):
            raise ReturnFail(f"缺少参数{name}")


def _wechat_time(fields: dict[str, str], name: str) -> datetime | None:
    value = fields.get(name)
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        raise ReturnFail(f"{name}参数格式错误") from None


def _check_unified(fields: dict[str, str], now: datetime) -> datetime | None:
    """Validate a unifiedorder request the way WeChat does; returns the order's expiry."""
    _require(fields, *UNIFIED_REQUIRED)
    if fields["trade_type"] in OTHER_TRADE_TYPES:
        raise BizError("NOAUTH", "商户无此接口权限")
    if fields["trade_type"] != "JSAPI":
        raise ReturnFail("trade_type参数格式错误")
    if not fields.get("openid"):
        raise ReturnFail("JSAPI支付必须传openid")
    if not OUT_TRADE_NO.fullmatch(fields["out_trade_no"]):
        raise ReturnFail("out_trade_no参数格式错误")
    if not FEE.fullmatch(fields["total_fee"]):
        raise ReturnFail("invalid total_fee")
    for name, limit in (("body", 127), ("attach", 127), ("nonce_str", 32), ("detail", 6000)):
        if len(fields.get(name, "")) > limit:
            raise ReturnFail(f"{name}参数长度有误")
    try:
        ipaddress.ip_address(fields["spbill_create_ip"])
    except ValueError:
        raise ReturnFail("spbill_create_ip参数格式错误") from None
    url = urlsplit(fields["notify_url"])
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        raise ReturnFail("invalid notify_url")
    if fields.get("fee_type", "CNY") != "CNY":
        raise ReturnFail("fee_type参数格式错误")
    start = _wechat_time(fields, "time_start") or now
    expire = _wechat_time(fields, "time_expire")
    if expire is not None and expire - start < MIN_VALIDITY:
        raise ReturnFail("time_expire时间过短，刷卡至少1分钟，其他5分钟")
    return expire


class PayLedger:
    """All orders of the one emulated merchant, by out_trade_no, prepay_id and transaction_id."""

    def __init__(self, refund_delay: timedelta = timedelta(0)) -> None:
        self.orders: dict[str, PayOrder] = {}
        self._by_prepay: dict[str, PayOrder] = {}
        self._by_transaction: dict[str, PayOrder] = {}
        self._refunds: dict[str, tuple[PayOrder, Refund]] = {}
        self._seq = itertools.count(1)
        self.refund_delay = refund_delay

    def _new_prepay_id(self, now: datetime) -> str:
        return f"wx{now.strftime('%Y%m%d%H%M%S')}{next(self._seq):020d}"

    def unified_order(self, fields: dict[str, str], now: datetime) -> PayOrder:
        """Create the order, or return the existing one when a retry repeats the same parameters."""
        expire = _check_unified(fields, now)
        identity = {k: v for k, v in fields.items() if k not in NOT_IDENTITY and v != ""}
        existing = self.orders.get(fields["out_trade_no"])
        if existing is not None:
            return self._reuse(existing, identity, now)
        order = PayOrder(
            out_trade_no=fields["out_trade_no"], identity=identity, openid=fields["openid"], body=fields["body"],
            total_fee=int(fields["total_fee"]), notify_url=fields["notify_url"], trade_type=fields["trade_type"],
            sign_type=fields.get("sign_type") or "MD5", created_at=now, time_expire=expire,
            prepay_id=self._new_prepay_id(now), prepay_issued_at=now,
            attach=fields.get("attach", ""), device_info=fields.get("device_info", ""),
        )
        self.orders[order.out_trade_no] = order
        self._by_prepay[order.prepay_id] = order
        return order

    def _reuse(self, order: PayOrder, identity: dict[str, str], now: datetime) -> PayOrder:
        if order.paid:
            raise BizError("ORDERPAID", "该订单已支付")
        if order.state == "CLOSED":
            raise BizError("ORDERCLOSED", "该订单已关闭")
        if identity != order.identity:
            raise BizError("OUT_TRADE_NO_USED", "商户订单号重复")
        if now - order.prepay_issued_at >= PREPAY_TTL:
            order.prepay_id = self._new_prepay_id(now)
            order.prepay_issued_at = now
            self._by_prepay[order.prepay_id] = order
        return order

    def find(self, fields: dict[str, str]) -> PayOrder:
        """The order named by `transaction_id` (preferred, as WeChat does) or `out_trade_no`."""
        if fields.get("transaction_id"):
            order = self._by_transaction.get(fields["transaction_id"])
        elif fields.get("out_trade_no"):
            order = self.orders.get(fields["out_trade_no"])
        else:
            raise ReturnFail("缺少参数out_trade_no")
        if order is None:
            raise BizError("ORDERNOTEXIST", "此交易订单号不存在")
        return order

    def by_prepay(self, prepay_id: str) -> PayOrder:
        order = self._by_prepay.get(prepay_id)
        if order is None:
            raise PayRefused("prepay_id不存在")
        return order

    def close(self, fields: dict[str, str]) -> PayOrder:
        _require(fields, "out_trade_no")
        order = self.orders.get(fields["out_trade_no"])
        if order is None:
            raise BizError("ORDERNOTEXIST", "订单不存在")
        if order.paid:
            raise BizError("ORDERPAID", "订单已支付，不能发起关单")
        if order.state == "CLOSED":
            raise BizError("ORDERCLOSED", "订单已关闭，无法重复关闭")
        order.state = "CLOSED"
        return order

    def pay(self, prepay_id: str, now: datetime, payer_openid: str | None = None) -> PayOrder:
        """The payer confirmed in WeChat: mark the order paid, or refuse as the WeChat client would."""
        order = self.by_prepay(prepay_id)
        if payer_openid is not None and payer_openid != order.openid:
            raise PayRefused("支付用户与下单用户不一致")
        if order.paid:
            raise PayRefused("该订单已支付")
        if order.state == "CLOSED":
            raise PayRefused("该订单已关闭")
        if prepay_id != order.prepay_id or now - order.prepay_issued_at >= PREPAY_TTL:
            raise PayRefused("prepay_id已失效")
        if order.time_expire is not None and now > order.time_expire:
            raise PayRefused("订单已过期")
        seq = next(self._seq)
        order.state = "SUCCESS"
        order.paid_at = now
        order.transaction_id = f"42000{now.strftime('%Y%m%d')}{seq:015d}"
        self._by_transaction[order.transaction_id] = order
        return order

    def refund(self, fields: dict[str, str], now: datetime) -> tuple[PayOrder, Refund]:
        """Apply for a (partial) refund; idempotent by out_refund_no, never past the paid amount."""
        _require(fields, "out_refund_no", "total_fee", "refund_fee")
        if not OUT_REFUND_NO.fullmatch(fields["out_refund_no"]):
            raise ReturnFail("out_refund_no参数格式错误")
        for name in ("total_fee", "refund_fee"):
            if not FEE.fullmatch(fields[name]):
                raise ReturnFail(f"invalid {name}")
        order = self.find(fields)
        total_fee, refund_fee = int(fields["total_fee"]), int(fields["refund_fee"])
        earlier = self._refunds.get(fields["out_refund_no"])
        if earlier is not None:
            earlier_order, earlier_refund = earlier
            if earlier_order is not order or earlier_refund.refund_fee != refund_fee or total_fee != order.total_fee:
                raise BizError("REFUND_FEE_MISMATCH", "订单金额或退款金额与之前请求不一致，请核实后再试")
            return order, earlier_refund
        if not order.paid or order.paid_at is None:
            raise BizError("ERROR", "订单状态错误，未支付的订单不能退款")
        if now - order.paid_at > REFUND_PERIOD:
            raise BizError("TRADE_OVERDUE", "订单已经超过退款期限")
        if total_fee != order.total_fee:
            raise BizError("PARAM_ERROR", "total_fee与订单金额不一致")
        if order.refunded_fee + refund_fee > order.total_fee:
            raise BizError("REFUND_FEE_INVALID", "累计退款金额大于支付金额")
        refund = Refund(fields["out_refund_no"], f"50000{now.strftime('%Y%m%d')}{next(self._seq):016d}",
                        refund_fee, now, now + self.refund_delay)
        order.refunds.append(refund)
        order.state = "REFUND"
        self._refunds[refund.out_refund_no] = (order, refund)
        return order, refund

    def refunds_for(self, fields: dict[str, str]) -> tuple[PayOrder, list[Refund]]:
        """refundquery's lookup: refund_id > out_refund_no > transaction_id > out_trade_no."""
        if fields.get("refund_id"):
            found = [pair for pair in self._refunds.values() if pair[1].refund_id == fields["refund_id"]]
            if not found:
                raise BizError("REFUNDNOTEXIST", "退款订单查询失败")
            return found[0][0], [found[0][1]]
        if fields.get("out_refund_no"):
            pair = self._refunds.get(fields["out_refund_no"])
            if pair is None:
                raise BizError("REFUNDNOTEXIST", "退款订单查询失败")
            return pair[0], [pair[1]]
        try:
            order = self.find(fields)
        except ReturnFail:
            raise ReturnFail("缺少参数out_refund_no") from None
        except BizError:
            raise BizError("REFUNDNOTEXIST", "退款订单查询失败") from None
        if not order.refunds:
            raise BizError("REFUNDNOTEXIST", "退款订单查询失败")
        return order, list(order.refunds)
