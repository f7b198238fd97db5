"""Order jobs: unpaid timeouts (a deferred job per order plus a minute sweep) and refunds pushed to WeChat Pay (a
job per refund plus a sweep). Each uses the injected clock (`ctx["deps"].clock`), so tests run them directly
with a ManualClock and a ctx dict. The buyer's message after payment is no job: `store.orders.payments.mark_paid`
queues it in the outbox with the payment.

Timeout (`cancel_unpaid`, `cancel_expired_orders`): an order past `expires_at` is first looked up at WeChat Pay
(`PayGateway.query_order`): paid there but the notice not yet here → recorded as paid (amount checked) instead
of cancelled; otherwise the WeChat order is closed (so it can no longer be paid) and ours cancelled, releasing
stock, coupons and points once (`store.orders.checkout.cancel_if_unpaid` is the gate). If WeChat cannot be reached the
order is cancelled anyway; a payment that still lands is refunded (`store.orders.payments`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from arq.cron import CronJob, cron

from store.orders.checkout import UNPAID, ShopRules, cancel_if_unpaid, expired_unpaid, get_order
from store.orders.payments import AmountMismatch, PayError, PayGateway, PaymentOutcome, mark_paid
from store.orders.refunds import refunds_to_submit, submit_refund, sync_refund

if TYPE_CHECKING:
    from datetime import datetime

    from scheduler.jobs import JobDeps

log = logging.getLogger("wxshop.jobs.orders")

SWEEP_BATCH = 500


def cancel_job_id(order_no: str) -> str:
    return f"cancel:{order_no}"


def refund_job_id(refund_no: str) -> str:
    return f"refund:{refund_no}"


# ---- the synchronous work (also called by the admin API and tests) --------------------------------------------


def settle_unpaid(order_no: str, now: datetime, pay: PayGateway | None, rules: ShopRules) -> str:
    """Time an unpaid order out (see the module docstring). Returns what happened: `cancelled`, `paid`,
    `refund` (paid at WeChat after all, but the order was cancelled meanwhile), `not_due`, `not_unpaid`,
    `missing` or `amount_mismatch` (left for an operator)."""
    order = get_order(order_no)
    if order is None:
        return "missing"
    if order.status != UNPAID:
        return "not_unpaid"
    if order.expires_at > now:
        return "not_due"
    if pay is not None:
        try:
            state = pay.query_order(order_no)
        except PayError as exc:
            log.warning("orderquery failed; cancelling anyway", extra={"order_no": order_no, "error": str(exc)})
            state = None
        if state is not None and state.state == "SUCCESS" and state.transaction_id and state.total_fee is not None:
            try:
                result = mark_paid(order_no, state.transaction_id, state.total_fee, now, rules=rules.members,
                                   time_end=state.time_end)  # fmt: skip
            except AmountMismatch as exc:
                log.error("paid at WeChat with another amount", extra={"order_no": order_no, "error": str(exc)})
                return "amount_mismatch"
            return "paid" if result.outcome is PaymentOutcome.PAID else result.outcome.value
        if state is not None and state.state not in ("CLOSED", "NOTFOUND"):
            try:
                pay.close_order(order_no)
            except PayError as exc:  # ORDERPAID lands as a notice and is refunded; others: cancel anyway
                log.warning("closeorder failed", extra={"order_no": order_no, "error": str(exc)})
    return "cancelled" if cancel_if_unpaid(order_no, now, reason="timeout") else "not_unpaid"


def push_refunds(pay: PayGateway, now: datetime, rules: ShopRules, limit: int = 100) -> int:
    """Sweep: submit pending refunds and ask about submitted ones; returns how many reached a final state."""
    finished = 0
    for refund_no in refunds_to_submit(limit):
        refund = submit_refund(refund_no, pay, now, rules.members)
        if refund.status == "submitted":
            refund = sync_refund(refund_no, pay, now, rules.members)
        finished += refund.status in ("succeeded", "failed")
    return finished


# ---- arq jobs ---------------------------------------------------------------------------------------------------


def _deps(ctx: dict[str, Any]) -> JobDeps:
    return ctx["deps"]


async def cancel_unpaid(ctx: dict[str, Any], order_no: str) -> str:
    """Deferred to the order's `expires_at` (`_job_id=cancel:{order_no}`) when it is created."""
    deps = _deps(ctx)
    outcome = await asyncio.to_thread(settle_unpaid, order_no, deps.clock.now(), deps.pay, deps.rules)
    log.info("unpaid order timed out", extra={"order_no": order_no, "outcome": outcome})
    return outcome


async def cancel_expired_orders(ctx: dict[str, Any]) -> int:
    """Cron, every minute: the safety net for timeouts whose deferred job was lost (Redis flushed, enqueue
    failed). Idempotent: an order already handled is skipped by its status."""
    deps = _deps(ctx)
    now = deps.clock.now()
    order_nos = await asyncio.to_thread(expired_unpaid, now, SWEEP_BATCH)
    cancelled = 0
    for order_no in order_nos:
        outcome = await asyncio.to_thread(settle_unpaid, order_no, now, deps.pay, deps.rules)
        cancelled += outcome == "cancelled"
    return cancelled


async def refund_payment(ctx: dict[str, Any], refund_no: str) -> str:
    """Submit one refund (a late payment's, or one an operator requested) to WeChat Pay."""
    deps = _deps(ctx)
    if deps.pay is None:
        return "no pay gateway"
    refund = await asyncio.to_thread(submit_refund, refund_no, deps.pay, deps.clock.now(), deps.rules.members)
    return str(refund.status)


async def sync_refunds(ctx: dict[str, Any]) -> int:
    """Cron: push pending refunds again and settle the ones WeChat is still processing."""
    deps = _deps(ctx)
    if deps.pay is None:
        return 0
    return await asyncio.to_thread(push_refunds, deps.pay, deps.clock.now(), deps.rules)


ORDER_FUNCTIONS = [cancel_unpaid, cancel_expired_orders, refund_payment, sync_refunds]


def order_cron() -> list[CronJob]:
    return [
        cron(cancel_expired_orders, name="order-timeouts", second=15, unique=True, keep_result=60),
        cron(sync_refunds, name="refund-sync", minute=set(range(0, 60, 5)), second=45, unique=True, keep_result=60),
    ]
