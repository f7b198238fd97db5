"""Payments: recording WeChat Pay's payment notices exactly once, and the interface to WeChat Pay that jobs and
the admin API are handed (`PayGateway`; `bot.pay.client` implements it with wechatpy).

`mark_paid(order_no, transaction_id, total_fee, now, rules=...)` runs in one transaction:
1. the notice must name a known order (`UnknownOrder`) for exactly its amount (`AmountMismatch`) — both raise
   before anything is written, so the notify endpoint answers FAIL and nothing changes;
2. a `Payment` row keyed by `transaction_id` (unique) records the money: a duplicate notice — WeChat's retries,
   or several servers delivering the same notice at once — fails that insert and is answered `DUPLICATE`
   (already recorded: reply SUCCESS again, change nothing);
3. the payment opens the payer's 48 h customer-service window (`store.outbox.payment_windows`), whatever
   becomes of the order;
4. the order moves `unpaid → paid` by a conditional UPDATE; only the transaction that moved it uses the coupons,
   adds spend and points (`store.members.accounts`) and queues the buyer's `paid` notice in the outbox (keyed
   `paid:{order_no}`), so all of that happens once. The outbox sends it as a customer-service message inside
   the window the payment opened, else as a template message. A 拼团 order is placed in its group in the same
   transaction (`store.group_buy.operations.admit_payment`): it waits as `grouping` until the group fills, and
   a payment for a group that closed first is refunded like a late payment. A buyer brought by a promoter
   earns them their commission in the same transaction (`store.commission.ledger`).

**Late payment after cancellation (decision).** If the order is no longer unpaid — the timeout cancelled it a
moment before the buyer's payment landed (or, in theory, a second payment for one order) — the payment is
still recorded and a full refund of *that payment* is created (`Refund`, kind `late_payment`, refund number
`RF{transaction_id}` so it exists once), and the outcome is `REFUND`: the caller submits it to WeChat. The
order stays cancelled. Restoring the order instead was rejected: its stock may be sold, its coupons re-locked
by a newer order and its points spent, and a half-restored order is worse for the buyer than money back
within minutes plus a message. The window is small anyway: the pay page passes `time_expire` (≥ our
deadline) to WeChat, and the timeout job asks WeChat for the trade state and closes it before cancelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import peewee

from store.commission import ledger as commission
from store.core.db import BaseModel, ShanghaiDateTimeField, write_transaction
from store.group_buy import operations as group_buy
from store.members import accounts as members
from store.members.accounts import MemberRules
from store.orders.checkout import PAID, UNPAID, Order
from store.outbox.kinds import Priority, format_fen, format_time
from store.outbox.notices import enqueue_notice
from store.outbox.payment_windows import open_payment_window
from store.outbox.template_lint import thing_value
from store.promotions import coupons as coupon_store

PENDING, SUBMITTED, SUCCEEDED, FAILED = "pending", "submitted", "succeeded", "failed"
REQUEST, LATE_PAYMENT = "request", "late_payment"


class Payment(BaseModel):
    """Money WeChat Pay says it received: one row per transaction, whatever became of the order."""

    transaction_id = peewee.CharField(max_length=64, unique=True)
    order_no = peewee.CharField(max_length=32, index=True)
    openid = peewee.CharField(max_length=64, default="")
    total_fee = peewee.BigIntegerField()
    outcome = peewee.CharField(max_length=16)  # paid | refund
    paid_at = ShanghaiDateTimeField()  # when we recorded it (WeChat's time_end is in `time_end`)
    time_end = peewee.CharField(max_length=14, default="")


class Refund(BaseModel):
    """A refund, from request to WeChat's answer. `refund_no` is the idempotency key (out_refund_no)."""

    refund_no = peewee.CharField(max_length=64, unique=True)
    order_no = peewee.CharField(max_length=32, index=True)
    kind = peewee.CharField(max_length=16, default=REQUEST)  # request | late_payment
    amount_fen = peewee.BigIntegerField(constraints=[peewee.Check("amount_fen > 0")])
    total_fee = peewee.BigIntegerField()  # the payment's amount, which WeChat's refund API asks for
    reason = peewee.CharField(max_length=80, default="")
    status = peewee.CharField(max_length=16, default=PENDING, index=True)
    restock = peewee.TextField(default="")  # "line_id:qty,line_id:qty" applied when the refund succeeds
    refund_id = peewee.CharField(max_length=64, null=True)
    error = peewee.CharField(max_length=200, null=True)
    attempts = peewee.IntegerField(default=0)
    created_at = ShanghaiDateTimeField()
    submitted_at = ShanghaiDateTimeField(null=True)
    finished_at = ShanghaiDateTimeField(null=True)


# ---- the interface to WeChat Pay --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TradeState:
    """orderquery's answer: `state` is WeChat's trade_state (SUCCESS, NOTPAY, CLOSED, REFUND, USERPAYING,
    PAYERROR) or NOTFOUND when WeChat never saw the order (no pay page was opened)."""

    state: str
    transaction_id: str | None = None
    total_fee: int | None = None
    time_end: str = ""


class PayError(Exception):
    """WeChat Pay refused (`code` is its err_code or return_msg) or could not be reached (`code` None)."""

    def __init__(self, code: str | None, message: str = "") -> None:
        super().__init__(f"WeChat Pay {code or 'unreachable'}: {message}")
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.code in (None, "SYSTEMERROR", "NOTENOUGH", "FREQUENCY_LIMITED", "BIZERR_NEED_RETRY")


class PayGateway(Protocol):
    """What jobs and the admin API need from WeChat Pay (blocking calls; run them on a thread)."""

    def query_order(self, order_no: str) -> TradeState: ...

    def close_order(self, order_no: str) -> None: ...

    def refund(self, order_no: str, refund_no: str, total_fee: int, refund_fee: int, reason: str) -> str:
        """Apply for a refund (idempotent by refund_no at WeChat); returns WeChat's refund_id."""
        ...

    def refund_status(self, refund_no: str) -> str:
        """SUCCESS, PROCESSING, CHANGE (needs the operator) or REFUNDCLOSE."""
        ...


# ---- recording a payment ------------------------------------------------------------------------------------------


class PaymentRejected(Exception):
    """The notice does not match our records; nothing was changed (the notify endpoint answers FAIL)."""


class UnknownOrder(PaymentRejected):
    pass


class AmountMismatch(PaymentRejected):
    def __init__(self, order_no: str, expected: int, got: int) -> None:
        super().__init__(f"order {order_no}: total_fee {got} != {expected}")
        self.expected = expected
        self.got = got


class PaymentOutcome(StrEnum):
    PAID = "paid"  # this notice paid the order
    DUPLICATE = "duplicate"  # this transaction was recorded before: nothing to do
    REFUND = "refund"  # the order was no longer unpaid: the payment is recorded and a refund created


@dataclass(frozen=True)
class PaymentResult:
    outcome: PaymentOutcome
    order_no: str
    openid: str
    refund_no: str | None = None
    points_earned: int = 0


def mark_paid(
    order_no: str, transaction_id: str, total_fee: int, now: datetime, *, rules: MemberRules, openid: str = "",
    time_end: str = "",
) -> PaymentResult:  # fmt: skip
    """Record a verified payment notice exactly once; see the module docstring."""
    order = Order.get_or_none(Order.order_no == order_no)
    if order is None:
        raise UnknownOrder(f"no order {order_no}")
    if total_fee != order.payable_fen:
        raise AmountMismatch(order_no, order.payable_fen, total_fee)
    try:
        with write_transaction():
            payment = Payment.create(
                transaction_id=transaction_id, order_no=order_no, openid=openid or order.openid,
                total_fee=total_fee, outcome=PaymentOutcome.PAID.value, paid_at=now, time_end=time_end,
            )  # fmt: skip
            open_payment_window(openid or order.openid, now)  # durable: the outbox's channel choice survives Redis
            moved = (
                Order.update(status=PAID, paid_at=now, transaction_id=transaction_id)
                .where(Order.order_no == order_no, Order.status == UNPAID)
                .execute()
            )
            if moved and not group_buy.admit_payment(order_no, now):
                moved = 0  # a 拼团 order whose group closed first: cancelled, and this payment is refunded below
            if moved:
                coupon_store.use_coupons(order_no, now)
                earned = members.record_payment(order.openid, order_no, total_fee, transaction_id, now, rules)
                commission.record_order(order, now)
                _queue_paid_notice(order, now)
                return PaymentResult(PaymentOutcome.PAID, order_no, order.openid, points_earned=earned)
            refund_no = f"RF{transaction_id}"
            Payment.update(outcome=PaymentOutcome.REFUND.value).where(Payment.id == payment.id).execute()
            Refund.create(
                refund_no=refund_no, order_no=order_no, kind=LATE_PAYMENT, amount_fen=total_fee, total_fee=total_fee,
                reason="订单已超时取消，支付款原路退回", created_at=now,
            )  # fmt: skip
            return PaymentResult(PaymentOutcome.REFUND, order_no, order.openid, refund_no=refund_no)
    except peewee.IntegrityError:
        earlier = Payment.get_or_none(Payment.transaction_id == transaction_id)
        if earlier is None:
            raise
        return PaymentResult(PaymentOutcome.DUPLICATE, earlier.order_no, order.openid)


def _queue_paid_notice(order: Order, now: datetime) -> None:
    enqueue_notice(
        order.openid, "paid",
        {"order_no": order.order_no, "amount": format_fen(order.payable_fen), "goods": thing_value(order.title, "商品"),
         "paid_at": format_time(now)},
        Priority.TRANSACTIONAL, now, dedup_key=f"paid:{order.order_no}",
    )  # fmt: skip


def payments_of(order_no: str) -> list[Payment]:
    return list(Payment.select().where(Payment.order_no == order_no).order_by(Payment.id))


def refunds_of(order_no: str) -> list[Refund]:
    return list(Refund.select().where(Refund.order_no == order_no).order_by(Refund.id))
