"""Compensation (补偿) on an after-sales ticket, the brief's 补偿方案: at most one per ticket (a unique case number),
written in the transaction of the decision that grants it, with the buyer's `compensation` notice.

How it is paid (`method`):
* `points`: credited now, `points_per_yuan` per yuan, expiring as earned points do;
* `coupon`: one coupon of the configured template, issued now (its worth is the template's);
* `refund`: money back to the buyer's payment through the checkout's refund path (`request_refund`, refund number
  `{case_no}C`), never more than the order has left to refund; a return's 运费险补贴 rides on the goods refund
  itself (the ticket's refund) when the order leaves room for it;
* `transfer`: a payment the merchant makes from its deposit outside WeChat Pay refunds (平台保证金赔付, e.g. 商家转账),
  recorded here so the buyer and operators see it.

A refund compensation is `refunding` until WeChat settles it (`settle_compensation_refunds`, run by the
after-sales sweep): `refunded`, or `failed` with operators alerted. The others are `granted` at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, database, write_transaction
from store.members.accounts import award_points
from store.monitoring.ops_alerts import alert_operators
from store.orders.checkout import Order
from store.orders.pricing import CouponKind
from store.orders.refunds import REFUNDABLE, RefundError, committed_refunds, request_refund, settled_by_refund
from store.outbox.kinds import Priority, format_fen, format_time
from store.outbox.notices import enqueue_notice
from store.outbox.template_lint import thing_value
from store.promotions.coupons import CouponError, CouponTemplate, issue_coupon

POINTS, COUPON, REFUND, TRANSFER = "points", "coupon", "refund", "transfer"
METHODS = (POINTS, COUPON, REFUND, TRANSFER)
METHOD_LABELS = {POINTS: "积分", COUPON: "补偿券", REFUND: "原路退款", TRANSFER: "转账"}
GRANTED, REFUNDING, REFUNDED, FAILED = "granted", "refunding", "refunded", "failed"


class Compensation(BaseModel):
    case_no = peewee.CharField(max_length=32, unique=True)  # one per ticket
    order_no = peewee.CharField(max_length=32, index=True)
    openid = peewee.CharField(max_length=64, index=True)
    label = peewee.CharField(max_length=16)  # 运费险补贴, 纠纷赔付, 补偿
    method = peewee.CharField(max_length=16)
    amount_fen = peewee.BigIntegerField()  # its worth (a percentage coupon: 0)
    points = peewee.BigIntegerField(default=0)
    coupon_code = peewee.CharField(max_length=32, null=True)
    refund_no = peewee.CharField(max_length=64, null=True, index=True)
    status = peewee.CharField(max_length=16)
    note = peewee.CharField(max_length=255, default="")
    granted_by = peewee.CharField(max_length=64, default="")
    created_at = ShanghaiDateTimeField()
    settled_at = ShanghaiDateTimeField(null=True)

    @property
    def method_label(self) -> str:
        return METHOD_LABELS.get(self.method, self.method)

    def describe(self) -> str:
        """For the buyer (≤ 20 characters, a template `thing`): 运费险补贴1000积分 / 纠纷赔付¥20.00原路退回 /
        售后补偿券1张."""
        if self.method == POINTS:
            what = f"{self.points}积分"
        elif self.method == COUPON:
            what = "券1张"
        elif self.method == REFUND:
            what = f"{format_fen(self.amount_fen)}原路退回"
        else:
            what = f"{format_fen(self.amount_fen)}转账"
        return thing_value(f"{self.label}{what}", "售后补偿")


@dataclass(frozen=True)
class Payout:
    """How a compensation is paid: the method and its rules."""

    method: str
    amount_fen: int
    points_per_yuan: int = 100
    points_valid_days: int = 365
    coupon_template: str = ""


class CompensationError(ValueError):
    """The compensation cannot be granted as asked; `str()` says why (for the operator)."""


class AlreadyCompensated(CompensationError):
    pass


def check_payout(payout: Payout, max_fen: int) -> None:
    if payout.method not in METHODS:
        raise CompensationError(f"method must be one of {', '.join(METHODS)}")
    if payout.method == COUPON:
        if not payout.coupon_template:
            raise CompensationError("no [after_sales] compensation_coupon configured for coupon compensations")
        return
    if not isinstance(payout.amount_fen, int) or isinstance(payout.amount_fen, bool) or payout.amount_fen <= 0:
        raise CompensationError("amount_fen must be a positive integer (fen)")
    if payout.amount_fen > max_fen:
        raise CompensationError(f"amount_fen {payout.amount_fen} is over [after_sales] compensation_max_fen {max_fen}")
    if payout.method == POINTS and payout.amount_fen * payout.points_per_yuan < 100:
        raise CompensationError("amount_fen is worth less than one point")


def grant(case_no: str, order_no: str, openid: str, label: str, payout: Payout, now: datetime, *,
          note: str = "", granted_by: str = "", refund_no: str | None = None) -> Compensation:  # fmt: skip
    """Grant the compensation and tell the buyer, in the caller's transaction (see the module docstring).
    `refund_no`: the refund that already carries it (a return's subsidy on the goods refund)."""
    if Compensation.select().where(Compensation.case_no == case_no).exists():
        raise AlreadyCompensated(f"ticket {case_no} was compensated already")
    row: dict[str, Any] = {
        "case_no": case_no, "order_no": order_no, "openid": openid, "label": label, "method": payout.method,
        "amount_fen": payout.amount_fen, "status": GRANTED, "note": note[:255], "granted_by": granted_by[:64],
        "created_at": now,
    }  # fmt: skip
    with write_transaction():
        if payout.method == POINTS:
            row["points"] = payout.amount_fen * payout.points_per_yuan // 100
            award_points(openid, row["points"], case_no, now, timedelta(days=payout.points_valid_days))
        elif payout.method == COUPON:
            template = CouponTemplate.get_or_none(CouponTemplate.code == payout.coupon_template)
            try:
                coupon = issue_coupon(openid, payout.coupon_template, now, source=f"comp:{case_no}")
            except CouponError as exc:
                raise CompensationError(str(exc)) from None
            row["coupon_code"] = coupon.code
            worth_fen = template is not None and template.coupon_kind is not CouponKind.PERCENT
            row["amount_fen"] = template.value if worth_fen else 0
        elif payout.method == REFUND:
            row["status"] = REFUNDING
            row["refund_no"] = refund_no or _refund(case_no, order_no, payout.amount_fen, label, now)
        try:
            with database.atomic():  # a savepoint: a racing grant for the same ticket wins, this one fails
                compensation = Compensation.create(**row)
        except peewee.IntegrityError:
            raise AlreadyCompensated(f"ticket {case_no} was compensated already") from None
        enqueue_notice(
            openid, "compensation",
            {"case_no": case_no, "compensation": compensation.describe(), "granted_at": format_time(now)},
            Priority.TRANSACTIONAL, now, dedup_key=f"compensation:{case_no}",
        )  # fmt: skip
    return compensation


def _refund(case_no: str, order_no: str, amount_fen: int, label: str, now: datetime) -> str:
    left = refundable_fen(order_no)
    if amount_fen > left:
        raise CompensationError(f"the order has {left} fen left to refund: pay {amount_fen} fen another way")
    try:
        return request_refund(order_no, amount_fen, f"{label}{case_no}", now, refund_no=f"{case_no}C").refund_no
    except RefundError as exc:
        raise CompensationError(str(exc)) from None


def refundable_fen(order_no: str) -> int:
    """What is left to refund of the order (0 when it cannot be refunded at all)."""
    order = Order.get_or_none(Order.order_no == order_no)
    if order is None or order.status not in REFUNDABLE:
        return 0
    return max(0, order.payable_fen - committed_refunds(order_no))


def settle_compensation_refunds(now: datetime, operators: Sequence[str], limit: int = 200) -> int:
    """Compensations whose refund WeChat settled: `refunded`, or `failed` (operators alerted). Returns how many."""
    settled = 0
    for row, ok in settled_by_refund(Compensation, REFUNDING, limit):
        with write_transaction():
            moved = (
                Compensation.update(status=REFUNDED if ok else FAILED, settled_at=now)
                .where(Compensation.id == row.id, Compensation.status == REFUNDING)
                .execute()
            )
            if moved and not ok:
                alert_operators(operators, "售后补偿退款失败", row.case_no, f"compensation_failed:{row.case_no}", now)
        settled += moved
    return settled


def compensation_of(case_no: str) -> Compensation | None:
    return Compensation.get_or_none(Compensation.case_no == case_no)


def compensation_dict(compensation: Compensation) -> dict[str, Any]:
    return {
        "label": compensation.label, "method": compensation.method, "method_label": compensation.method_label,
        "amount_fen": compensation.amount_fen, "points": compensation.points, "coupon_code": compensation.coupon_code,
        "refund_no": compensation.refund_no, "status": compensation.status, "note": compensation.note,
        "granted_by": compensation.granted_by, "created_at": compensation.created_at.isoformat(),
        "settled_at": compensation.settled_at.isoformat() if compensation.settled_at else None,
        "shown_to_buyer": compensation.describe(),
    }  # fmt: skip
