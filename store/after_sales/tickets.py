"""After-sales tickets (售后单): a buyer's return, refund, exchange or complaint about one order, from the chat
request to the operator's decision, the refund and the buyer's notices. Synchronous; every call takes `now`.

Life of a ticket: `open` → `refunding` → `refunded` (return / refund approved: the refund goes through the
checkout's refund path, `store.orders.refunds.request_refund` with the case number as refund number, so approving twice
refunds once) · `open` → `reshipping` → `reshipped` (exchange approved: the replacement ships free as a parcel of its
own, store.after_sales.reshipments) · `open` → `approved` (complaint handled) · `open` → `refused`. A refund WeChat
refuses ends `refund_failed` and alerts operators. Every step is a conditional UPDATE on the status, and the buyer
gets an `after_sales` notice for each one (dedup key per case and step), in the same transaction.

Compensation (store.after_sales.compensation), in the approval's transaction: an approved return gets the 运费险补贴
(`return_subsidy_fen`, paid as `return_subsidy_method`; a refund rides on the goods refund when the order leaves
room, else it is paid in points); an approved complaint gets `dispute_goodwill_fen` (as `dispute_goodwill_method`)
unless the operator refunds an amount; any ticket may be compensated once by an operator (`compensate`). When a
ticket closes (refused, complaint approved, refunded, reshipped) the buyer is asked once for a 1–5 rating
(`ask_rating`, answered in chat: store.after_sales.ratings); `handled_by` names who decided, for the KPI.

SLA clocks (the brief): return / refund answered within `answer_hours` (48), exchange reviewed within
`exchange_hours` (72), complaints within `dispute_working_days` (3) and at the latest `dispute_max_working_days`
(5) working days (store.after_sales.sla). "Answered" means approved or refused. `escalate_overdue` alerts operators
once per
ticket and level. At most one ticket per order is open at a time (a unique `open_key`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import peewee

from store.after_sales.compensation import (
    POINTS,
    AlreadyCompensated,
    Compensation,
    CompensationError,
    Payout,
    check_payout,
    grant,
)
from store.after_sales.compensation import REFUND as REFUND_METHOD
from store.after_sales.sla import add_working_days, parse_holidays
from store.core.db import BaseModel, ShanghaiDateTimeField, database, write_transaction
from store.core.money import yuan
from store.monitoring.ops_alerts import alert_operators
from store.orders.checkout import COMPLETED, PAID, PARTIALLY_REFUNDED, SHIPPED, Order
from store.orders.refunds import RefundError, committed_refunds, request_refund, settled_by_refund
from store.outbox.kinds import Priority, format_fen, format_time
from store.outbox.notices import enqueue_notice
from store.outbox.template_lint import value_problems

RETURN, REFUND, EXCHANGE, DISPUTE = "return", "refund", "exchange", "dispute"
KIND_LABELS = {RETURN: "退货退款", REFUND: "仅退款", EXCHANGE: "换货", DISPUTE: "投诉"}
OPEN, REFUNDING, REFUNDED, APPROVED, REFUSED, REFUND_FAILED = (
    "open", "refunding", "refunded", "approved", "refused", "refund_failed",
)  # fmt: skip
RESHIPPING, RESHIPPED = "reshipping", "reshipped"
STATUS_LABELS = {
    OPEN: "待处理", REFUNDING: "退款中", REFUNDED: "已退款", APPROVED: "已通过", REFUSED: "未通过",
    REFUND_FAILED: "退款异常", RESHIPPING: "换货待发出", RESHIPPED: "换货已发出",
}  # fmt: skip
COMPENSATION_LABELS = {RETURN: "运费险补贴", DISPUTE: "纠纷赔付"}  # others: 售后补偿
DECLINED = 0  # the rating of a buyer who answered "不评价"
RATING_HOW = "回复数字1-5评分"  # the rating request's instruction field (≤ 20 characters)
REFUND_KINDS = frozenset({RETURN, REFUND})
NEEDS_DELIVERY = frozenset({RETURN, EXCHANGE})  # goods to send back: the order must have shipped
ELIGIBLE_STATUSES = (PAID, SHIPPED, COMPLETED, PARTIALLY_REFUNDED)
MAX_PHOTOS = 9


class Ticket(BaseModel):
    case_no = peewee.CharField(max_length=32, unique=True)
    order_no = peewee.CharField(max_length=32, index=True)
    openid = peewee.CharField(max_length=64, index=True)
    kind = peewee.CharField(max_length=16)
    reason = peewee.CharField(max_length=255)
    photos = peewee.TextField(default="[]")  # JSON [{"media_id", "url"}]: WeChat keeps media 3 days, the URL longer
    status = peewee.CharField(max_length=16, default=OPEN, index=True)
    open_key = peewee.CharField(max_length=32, null=True, unique=True)  # the order number while not final
    amount_fen = peewee.BigIntegerField(null=True)
    refund_no = peewee.CharField(max_length=64, null=True)
    note = peewee.CharField(max_length=255, default="")  # the operator's decision, in their words
    created_at = ShanghaiDateTimeField()
    due_at = ShanghaiDateTimeField()
    final_due_at = ShanghaiDateTimeField(null=True)
    answered_at = ShanghaiDateTimeField(null=True)
    closed_at = ShanghaiDateTimeField(null=True)
    escalation = peewee.IntegerField(default=0)  # 1: past due_at, 2: past final_due_at (complaints)
    escalated_at = ShanghaiDateTimeField(null=True)
    handled_by = peewee.CharField(max_length=64, default="")  # who approved or refused it (the KPI's operator)
    rating_asked_at = ShanghaiDateTimeField(null=True)
    rating = peewee.SmallIntegerField(null=True)  # 1..5, or DECLINED
    rated_at = ShanghaiDateTimeField(null=True)

    class Meta:
        indexes = ((("status", "due_at"), False), (("kind", "created_at"), False))

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    def photo_list(self) -> list[dict[str, str]]:
        return json.loads(self.photos or "[]")


@dataclass(frozen=True)
class AfterSalesRules:
    answer: timedelta = timedelta(hours=48)
    exchange: timedelta = timedelta(hours=72)
    dispute_working_days: int = 3
    dispute_max_working_days: int = 5
    holidays: frozenset[date] = frozenset()
    eligible_days: int = 30
    operators: tuple[str, ...] = ()
    return_subsidy_fen: int = 1000  # 运费险补贴 of an approved return
    return_subsidy_method: str = POINTS
    dispute_goodwill_fen: int = 0  # 纠纷赔付 of an approved complaint (0: the operator decides)
    dispute_goodwill_method: str = REFUND_METHOD
    compensation_coupon: str = ""  # the coupon template of coupon compensations
    compensation_max_fen: int = 20000
    points_per_yuan: int = 100
    points_valid_days: int = 365
    rating_days: int = 7  # a rating is taken this long after the ask

    @classmethod
    def from_settings(cls, after_sales: Any, shop: Any) -> AfterSalesRules:
        return cls(
            answer=timedelta(hours=int(after_sales.answer_hours)),
            exchange=timedelta(hours=int(after_sales.exchange_hours)),
            dispute_working_days=int(after_sales.dispute_working_days),
            dispute_max_working_days=int(after_sales.dispute_max_working_days),
            holidays=parse_holidays(after_sales.holidays),
            eligible_days=int(after_sales.eligible_days),
            operators=tuple(shop.operator_openids),
            return_subsidy_fen=int(after_sales.return_subsidy_fen),
            return_subsidy_method=str(after_sales.return_subsidy_method),
            dispute_goodwill_fen=int(after_sales.dispute_goodwill_fen),
            dispute_goodwill_method=str(after_sales.dispute_goodwill_method),
            compensation_coupon=str(after_sales.compensation_coupon),
            compensation_max_fen=int(after_sales.compensation_max_fen),
            points_per_yuan=int(shop.points_per_yuan),
            points_valid_days=int(shop.points_valid_days),
            rating_days=int(after_sales.rating_days),
        )

    def payout(self, method: str, amount_fen: int) -> Payout:
        return Payout(method, amount_fen, self.points_per_yuan, self.points_valid_days, self.compensation_coupon)

    def default_payout(self, kind: str) -> Payout:
        """What `compensate` pays when the operator names neither method nor amount."""
        if kind == RETURN:
            return self.payout(self.return_subsidy_method, self.return_subsidy_fen)
        if kind == DISPUTE:
            return self.payout(self.dispute_goodwill_method, self.dispute_goodwill_fen)
        return self.payout(POINTS, self.return_subsidy_fen)

    def deadlines(self, kind: str, opened: datetime) -> tuple[datetime, datetime | None]:
        """(due_at, final_due_at) of a ticket of `kind` opened at `opened`."""
        if kind == DISPUTE:
            return (add_working_days(opened, self.dispute_working_days, self.holidays),
                    add_working_days(opened, self.dispute_max_working_days, self.holidays))  # fmt: skip
        return opened + (self.exchange if kind == EXCHANGE else self.answer), None

    def promise(self, kind: str) -> str:
        """What the buyer is promised when the ticket opens (≤ 20 characters)."""
        if kind == DISPUTE:
            return f"已受理，{self.dispute_max_working_days}个工作日内处理"
        hours = int((self.exchange if kind == EXCHANGE else self.answer).total_seconds() // 3600)
        return f"已受理，{hours}小时内答复"


# ---- errors ---------------------------------------------------------------------------------------------------


class AfterSalesError(ValueError):
    """The request or decision cannot be made; `str()` says why (Chinese for the buyer where the chat shows it)."""


class TicketNotFound(AfterSalesError):
    pass


class NotEligible(AfterSalesError):
    pass


class AlreadyDecided(AfterSalesError):
    pass


# ---- the buyer's side ------------------------------------------------------------------------------------------


def _eligible(openid: str, kind: str, now: datetime, rules: AfterSalesRules) -> peewee.ModelSelect:
    statuses = (SHIPPED, COMPLETED, PARTIALLY_REFUNDED) if kind in NEEDS_DELIVERY else ELIGIBLE_STATUSES
    busy = Ticket.select(Ticket.open_key).where(Ticket.open_key.is_null(False))
    return Order.select().where(
        Order.openid == openid, Order.status.in_(statuses), Order.paid_at >= now - timedelta(days=rules.eligible_days),
        Order.order_no.not_in(busy),
    )  # fmt: skip


def eligible_orders(openid: str, kind: str, now: datetime, rules: AfterSalesRules, limit: int = 5) -> list[Order]:
    """The follower's orders a ticket of `kind` may be opened for, newest first."""
    query = _eligible(openid, kind, now, rules).order_by(Order.created_at.desc(), Order.id.desc())
    return list(query.limit(limit))


def new_case_no(now: datetime) -> str:
    return f"AS{now:%Y%m%d%H%M%S}{secrets.randbelow(10**6):06d}"


def open_ticket(
    openid: str, order_no: str, kind: str, reason: str, photos: Sequence[dict[str, str]], now: datetime,
    rules: AfterSalesRules,
) -> Ticket:  # fmt: skip
    """Open a ticket, tell the buyer the promise and the operators the news, in one transaction."""
    if kind not in KIND_LABELS:
        raise AfterSalesError(f"未知的售后类型{kind}")
    reason = " ".join(reason.split())[:255]
    if len(reason) < 2:
        raise AfterSalesError("请简单描述一下原因")
    if Ticket.select().where(Ticket.open_key == order_no).exists():
        raise NotEligible("这个订单已有处理中的售后申请")
    if not _eligible(openid, kind, now, rules).where(Order.order_no == order_no).exists():
        raise NotEligible("这个订单现在不能申请" + KIND_LABELS[kind])
    due, final = rules.deadlines(kind, now)
    try:
        with write_transaction():
            with database.atomic():  # a savepoint: the unique open_key refuses a second open ticket
                ticket = Ticket.create(
                    case_no=new_case_no(now), order_no=order_no, openid=openid, kind=kind, reason=reason,
                    photos=json.dumps(list(photos)[:MAX_PHOTOS], ensure_ascii=False), open_key=order_no,
                    created_at=now, due_at=due, final_due_at=final,
                )  # fmt: skip
            _tell_buyer(ticket, "opened", rules.promise(kind), now)
            subject = f"新{KIND_LABELS[kind]}申请"
            alert_operators(rules.operators, subject, ticket.case_no, f"ticket:{ticket.case_no}", now)
    except peewee.IntegrityError:
        raise NotEligible("这个订单已有处理中的售后申请") from None
    return ticket


def tickets_of(openid: str, limit: int = 3) -> list[Ticket]:
    query = Ticket.select().where(Ticket.openid == openid).order_by(Ticket.created_at.desc(), Ticket.id.desc())
    return list(query.limit(limit))


def ask_rating(ticket: Ticket, now: datetime) -> bool:
    """In the transaction that closes the ticket: queue the `rating_request` unless it was asked before (a
    conditional UPDATE of `rating_asked_at`, so a retried close asks once). Returns whether it was queued."""
    moved = (
        Ticket.update(rating_asked_at=now)
        .where(Ticket.id == ticket.id, Ticket.rating_asked_at.is_null())
        .execute()
    )
    if moved:
        enqueue_notice(
            ticket.openid, "rating_request",
            {"case_no": ticket.case_no, "item": ticket.kind_label, "closed_at": format_time(now),
             "how": RATING_HOW},
            Priority.SERVICE, now, dedup_key=f"rating:{ticket.case_no}",
        )  # fmt: skip
    return bool(moved)


def _tell_buyer(ticket: Ticket, step: str, progress: str, now: datetime) -> None:
    enqueue_notice(
        ticket.openid, "after_sales",
        {"case_no": ticket.case_no, "progress": progress, "updated_at": format_time(now)},
        Priority.TRANSACTIONAL, now, dedup_key=f"after_sales:{ticket.case_no}:{step}",
    )  # fmt: skip


# ---- the operator's side ---------------------------------------------------------------------------------------


def get_ticket(case_no: str) -> Ticket:
    ticket = Ticket.get_or_none(Ticket.case_no == case_no)
    if ticket is None:
        raise TicketNotFound(f"no after-sales ticket {case_no}")
    return ticket


def approve(case_no: str, now: datetime, rules: AfterSalesRules, *, amount_fen: int | None = None,
            note: str = "", by: str = "") -> Ticket:  # fmt: skip
    """Approve: returns and refunds (and complaints given `amount_fen`) request the refund now; an exchange waits
    for its reshipment; a complaint without money is closed as approved. The compensation the rules give is
    granted with it (see the module docstring). Approving a ticket approved before returns it unchanged."""
    ticket = get_ticket(case_no)
    refunds = ticket.kind in REFUND_KINDS or (ticket.kind == DISPUTE and amount_fen is not None)
    if amount_fen is not None and (not refunds or not isinstance(amount_fen, int) or amount_fen <= 0):
        raise AfterSalesError("amount_fen is a positive integer, for returns, refunds and complaints only")
    try:
        with write_transaction():
            ticket = get_ticket(case_no)
            if ticket.status != OPEN:
                if ticket.status in (REFUNDING, REFUNDED, APPROVED, RESHIPPING, RESHIPPED):
                    return ticket
                raise AlreadyDecided(f"ticket {case_no} is {ticket.status}")
            if ticket.kind == EXCHANGE:
                _decide(ticket, RESHIPPING, now, note, by)
                _tell_buyer(ticket, "approved", "换货已通过，新商品将包邮寄出", now)
            elif not refunds:
                _decide(ticket, APPROVED, now, note, by, closed=True)
                _tell_buyer(ticket, "approved", "您的投诉已处理完毕", now)
                if rules.dispute_goodwill_fen > 0 and not _compensated(ticket):
                    _grant(ticket, rules.payout(rules.dispute_goodwill_method, rules.dispute_goodwill_fen), now, by)
                ask_rating(ticket, now)
            else:
                _approve_refund(ticket, amount_fen, now, rules, note, by)
    except CompensationError as exc:
        raise AfterSalesError(f"compensation: {exc}") from None
    return get_ticket(case_no)


def _approve_refund(ticket: Ticket, goods_fen: int | None, now: datetime, rules: AfterSalesRules, note: str,
                    by: str) -> None:  # fmt: skip
    """The refund of a return, refund or complaint; a return's 运费险补贴 rides on it when the order has room."""
    order = Order.get(Order.order_no == ticket.order_no)
    left = order.payable_fen - committed_refunds(order.order_no)
    goods = goods_fen if goods_fen is not None else left
    if goods <= 0:
        raise AfterSalesError(f"order {order.order_no} is refunded in full already")
    subsidy = rules.return_subsidy_fen if ticket.kind == RETURN and not _compensated(ticket) else 0
    rides = subsidy > 0 and rules.return_subsidy_method == REFUND_METHOD and goods + subsidy <= left
    amount = goods + subsidy if rides else goods
    try:
        refund = request_refund(order.order_no, amount, f"售后{ticket.case_no}", now, refund_no=ticket.case_no)
    except RefundError as exc:
        raise AfterSalesError(str(exc)) from None
    _decide(ticket, REFUNDING, now, note, by, refund_no=refund.refund_no, amount_fen=amount)
    _tell_buyer(ticket, "approved", f"审核通过，退款{format_fen(amount)}处理中"[:20], now)
    if rides:
        _grant(ticket, rules.payout(REFUND_METHOD, subsidy), now, by, refund_no=refund.refund_no)
    elif subsidy > 0:  # no room left on the order for the subsidy: points instead of a refund
        method = POINTS if rules.return_subsidy_method == REFUND_METHOD else rules.return_subsidy_method
        _grant(ticket, rules.payout(method, subsidy), now, by)


def _compensated(ticket: Ticket) -> bool:
    """An operator compensated it before the decision: the rules' compensation is not paid on top."""
    return Compensation.select().where(Compensation.case_no == ticket.case_no).exists()


def _grant(ticket: Ticket, payout: Payout, now: datetime, by: str, *, note: str = "",
           refund_no: str | None = None) -> Compensation:  # fmt: skip
    label = COMPENSATION_LABELS.get(ticket.kind, "售后补偿")
    return grant(ticket.case_no, ticket.order_no, ticket.openid, label, payout, now, note=note, granted_by=by,
                 refund_no=refund_no)  # fmt: skip


def compensate(case_no: str, now: datetime, rules: AfterSalesRules, *, method: str | None = None,
               amount_fen: int | None = None, note: str = "", by: str = "") -> Compensation:  # fmt: skip
    """An operator's compensation of a ticket, once: `method` and `amount_fen` default to the rules for its kind
    (a refund compensation is requested here and submitted by the caller)."""
    ticket = get_ticket(case_no)
    default = rules.default_payout(ticket.kind)
    payout = rules.payout(method or default.method, amount_fen if amount_fen is not None else default.amount_fen)
    try:
        check_payout(payout, rules.compensation_max_fen)
        with write_transaction():
            return _grant(get_ticket(case_no), payout, now, by, note=note)
    except AlreadyCompensated:
        raise
    except CompensationError as exc:
        raise AfterSalesError(str(exc)) from None


def refuse(case_no: str, reason: str, now: datetime, rules: AfterSalesRules, *, by: str = "") -> Ticket:
    reason = " ".join(reason.split())
    if not reason:
        raise AfterSalesError("a refusal needs a reason for the buyer")
    with write_transaction():
        ticket = get_ticket(case_no)
        if ticket.status != OPEN:
            if ticket.status == REFUSED:
                return ticket
            raise AlreadyDecided(f"ticket {case_no} is {ticket.status}")
        _decide(ticket, REFUSED, now, reason, by, closed=True)
        progress = f"未通过：{reason}"[:20]
        if value_problems("progress", "thing", progress):  # marketing words, emoji…: keep the notice sendable
            progress = "未通过审核，回复售后查看"
        _tell_buyer(ticket, "refused", progress, now)
        ask_rating(ticket, now)
    return get_ticket(case_no)


def _decide(ticket: Ticket, status: str, now: datetime, note: str, by: str, *, closed: bool = False,
            **extra: Any) -> None:  # fmt: skip
    changes: dict[str, Any] = {"status": status, "answered_at": now, "note": note[:255], "handled_by": by[:64],
                               **extra}  # fmt: skip
    if closed:
        changes.update(closed_at=now, open_key=None)
    moved = Ticket.update(**changes).where(Ticket.id == ticket.id, Ticket.status == OPEN).execute()
    if not moved:
        raise AlreadyDecided(f"ticket {ticket.case_no} was decided meanwhile")


def settle_refunds(now: datetime, rules: AfterSalesRules, limit: int = 200) -> int:
    """Tickets whose refund WeChat has settled: `refunded` (the buyer is told) or `refund_failed` (operators
    are). Run by the after-sales sweep and right after an approval; returns tickets settled."""
    settled = 0
    for row, ok in settled_by_refund(Ticket, REFUNDING, limit):
        with write_transaction():
            moved = (
                Ticket.update(status=REFUNDED if ok else REFUND_FAILED, closed_at=now, open_key=None)
                .where(Ticket.id == row.id, Ticket.status == REFUNDING)
                .execute()
            )
            if not moved:
                continue
            if ok:
                _tell_buyer(row, "refunded", f"退款{format_fen(row.amount_fen or 0)}已原路退回"[:20], now)
                ask_rating(row, now)
            else:
                _tell_buyer(row, "refund_failed", "退款遇到问题，客服正在处理", now)
                alert_operators(rules.operators, "售后退款失败", row.case_no, f"refund_failed:{row.case_no}", now)
        settled += 1
    return settled


def escalate_overdue(now: datetime, rules: AfterSalesRules, limit: int = 500) -> int:
    """SLA breaches: open tickets past `due_at` (level 1), complaints past `final_due_at` (level 2) — each
    alerts operators once. Returns escalations raised."""
    raised = 0
    levels = (
        (1, Ticket.due_at, "超时未处理"),
        (2, Ticket.final_due_at, f"超{rules.dispute_max_working_days}个工作日未结"),
    )
    for level, deadline, what in levels:
        query = (
            Ticket.select()
            .where(Ticket.status == OPEN, Ticket.escalation < level, deadline.is_null(False), deadline <= now)
            .order_by(deadline)
            .limit(limit)
        )
        for ticket in list(query):
            with write_transaction():
                moved = (
                    Ticket.update(escalation=level, escalated_at=now)
                    .where(Ticket.id == ticket.id, Ticket.status == OPEN, Ticket.escalation < level)
                    .execute()
                )
                if moved:
                    subject = f"{ticket.kind_label}{what}"
                    alert_operators(rules.operators, subject, ticket.case_no, f"sla:{ticket.case_no}:{level}", now)
                    raised += 1
    return raised


# ---- reading ------------------------------------------------------------------------------------------------------


def list_tickets(*, status: str | None = None, kind: str | None = None, openid: str | None = None,
                 before_id: int | None = None, limit: int = 50) -> list[Ticket]:  # fmt: skip
    query = Ticket.select()
    if status:
        query = query.where(Ticket.status == status)
    if kind:
        query = query.where(Ticket.kind == kind)
    if openid:
        query = query.where(Ticket.openid == openid)
    if before_id:
        query = query.where(Ticket.id < before_id)
    return list(query.order_by(Ticket.id.desc()).limit(limit))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def ticket_dict(ticket: Ticket, now: datetime | None = None) -> dict[str, Any]:
    out = {
        "id": ticket.id, "case_no": ticket.case_no, "order_no": ticket.order_no, "openid": ticket.openid,
        "kind": ticket.kind, "kind_label": ticket.kind_label, "status": ticket.status,
        "status_label": ticket.status_label, "reason": ticket.reason, "photos": ticket.photo_list(),
        "amount_fen": ticket.amount_fen, "refund_no": ticket.refund_no, "note": ticket.note,
        "created_at": _iso(ticket.created_at), "due_at": _iso(ticket.due_at),
        "final_due_at": _iso(ticket.final_due_at), "answered_at": _iso(ticket.answered_at),
        "closed_at": _iso(ticket.closed_at), "escalation": ticket.escalation, "handled_by": ticket.handled_by,
        "rating": ticket.rating, "rating_asked_at": _iso(ticket.rating_asked_at), "rated_at": _iso(ticket.rated_at),
    }  # fmt: skip
    if now is not None:
        out["overdue"] = ticket.status == OPEN and ticket.due_at <= now
    return out


def after_sales_stats(now: datetime, days: int = 7) -> dict[str, Any]:
    """The weekly figures of the brief: complaint rate = complaints opened / orders paid in the period."""
    since = now - timedelta(days=days)
    paid = Order.select().where(Order.paid_at >= since, Order.paid_at < now).count()
    by_kind = dict(
        Ticket.select(Ticket.kind, peewee.fn.COUNT(Ticket.id))
        .where(Ticket.created_at >= since, Ticket.created_at < now)
        .group_by(Ticket.kind)
        .tuples()
    )
    tickets = sum(by_kind.values())
    breaches = Ticket.select().where(Ticket.created_at >= since, Ticket.escalation > 0).count()
    complaints = int(by_kind.get(DISPUTE, 0))
    return {
        "since": since.isoformat(), "until": now.isoformat(), "orders_paid": paid,
        "tickets": {kind: int(by_kind.get(kind, 0)) for kind in KIND_LABELS}, "complaints": complaints,
        "complaint_rate": round(complaints / paid, 4) if paid else 0.0,
        "after_sales_rate": round(tickets / paid, 4) if paid else 0.0, "sla_breaches": breaches,
        "open": Ticket.select().where(Ticket.status == OPEN).count(),
    }  # fmt: skip


def describe_ticket(ticket: Ticket) -> str:
    """One chat line: `AS… 退货退款 退款中（订单…）`."""
    money = f" {yuan(ticket.amount_fen)}" if ticket.amount_fen else ""
    return f"{ticket.case_no} {ticket.kind_label} {ticket.status_label}{money}（订单{ticket.order_no[-6:]}）"
