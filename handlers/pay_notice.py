"""WeChat Pay's payment notice (WECHAT.md §3.4), judged and recorded: the framework-free core of `POST /pay/notify`.

The edge (bot.pay.notify) verifies the MD5 signature and parses the XML; what it hands here is a verified dict.
Checked in order, anything failing answers FAIL and changes nothing: our appid and mch_id, a successful payment
(a failed one is acknowledged and changes nothing), the fields a payment needs, a known order, `total_fee` equal
to the order's amount. `store.orders.payments.mark_paid` records the payment exactly once (duplicates and
concurrent deliveries included) with the buyer's `paid` notice in the same transaction; a database error answers
FAIL so WeChat delivers again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import peewee

from store.members.accounts import MemberRules
from store.orders.payments import AmountMismatch, PaymentResult, UnknownOrder, mark_paid


@dataclass(frozen=True)
class NoticeVerdict:
    """What to answer WeChat and why: `label` names the outcome for metrics and logs."""

    label: str
    ok: bool
    message: str
    result: PaymentResult | None = None
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return not self.ok and self.label != "error"


def refuse(label: str, message: str, **context: Any) -> NoticeVerdict:
    return NoticeVerdict(label, False, message, context=context)


def judge_notice(data: dict[str, Any], app_id: str, mch_id: str) -> NoticeVerdict | None:
    """The checks that need no database: a verdict to answer now, or None when the payment is to be recorded."""
    order_no = str(data.get("out_trade_no") or "")
    if data.get("appid") != app_id or data.get("mch_id") != mch_id:
        return refuse("wrong_merchant", "商户信息不符", order_no=order_no, appid=data.get("appid"),
                      mch_id=data.get("mch_id"))  # fmt: skip
    if data.get("return_code") != "SUCCESS" or data.get("result_code") != "SUCCESS":
        return NoticeVerdict("not_paid", True, "OK", context={"order_no": order_no, "err_code": data.get("err_code")})
    if not order_no or not data.get("transaction_id") or not isinstance(data.get("total_fee"), int):
        return refuse("incomplete", "参数不完整", order_no=order_no)
    return None


def payer(data: dict[str, Any]) -> str:
    return str(data.get("openid") or "")


def record_payment(data: dict[str, Any], now: datetime, rules: MemberRules) -> NoticeVerdict:
    """Record a payment `judge_notice` let through (blocking: run it on a handler thread)."""
    order_no = str(data["out_trade_no"])
    try:
        result = mark_paid(
            order_no, str(data["transaction_id"]), data["total_fee"], now, rules=rules, openid=payer(data),
            time_end=str(data.get("time_end") or ""),
        )  # fmt: skip
    except UnknownOrder:
        return refuse("unknown_order", "订单不存在", order_no=order_no)
    except AmountMismatch as exc:
        return refuse("wrong_amount", "金额不符", order_no=order_no, expected=exc.expected, got=exc.got)
    except peewee.DatabaseError as exc:
        return NoticeVerdict("error", False, "系统繁忙", context={"order_no": order_no, "error": repr(exc)})
    return NoticeVerdict(result.outcome.value, True, "OK", result, {"order_no": order_no})
