"""拼团 sweeps, each an idempotent select → act → mark pass safe to re-run after a crash:

* `fail_expired` closes open groups whose window ended unfilled: the group goes `open → failed` by one conditional
  UPDATE (so only one run acts), each paid member's order `grouping → group_failed` and one `group_failed` notice
  per member, all in one transaction; then `refunds_owed` requests each refund under a fixed refund number
  (`GB{order_no}`), so however often the sweep runs, each payment is refunded exactly once. A refund WeChat refuses
  settles the order back to `group_failed` (never `paid`) and the operator retries it from the admin API.
* `release_places` frees the places of joiners whose unpaid order was cancelled (timeout or buyer).
* `void_unstarted` closes pending groups whose leader's order was cancelled: such a group never started.
"""

from __future__ import annotations

from datetime import datetime

from store.core.db import write_transaction
from store.group_buy.models import CANCELLED, FAILED, OPEN, PENDING, RESERVED, VOID, Group, GroupMember
from store.group_buy.models import PAID as MEMBER_PAID
from store.orders.checkout import CANCELLED as ORDER_CANCELLED
from store.orders.checkout import GROUP_FAILED, GROUP_FAILED_REASON, GROUPING, Order
from store.orders.payments import Refund
from store.orders.refunds import RefundError, request_refund
from store.outbox.kinds import Priority, format_fen, format_time
from store.outbox.notices import enqueue_notice
from store.outbox.template_lint import thing_value

REFUND_PREFIX = "GB"


def refund_no_for(order_no: str) -> str:
    return f"{REFUND_PREFIX}{order_no}"


def fail_expired(now: datetime, limit: int = 500) -> list[str]:
    """Close groups whose window is over; the group numbers closed by this run."""
    due = (
        Group.select(Group.id, Group.group_no)
        .where(Group.status == OPEN, Group.expires_at <= now)
        .order_by(Group.expires_at)
        .limit(limit)
    )
    closed = []
    for group in list(due):
        with write_transaction():
            closing = Group.update(status=FAILED, closed_at=now).where(Group.id == group.id, Group.status == OPEN)
            if not closing.execute():
                continue
            members = list(GroupMember.select().where(GroupMember.group == group.id, GroupMember.status == MEMBER_PAID))
            orders = {o.order_no: o for o in Order.select().where(Order.order_no.in_([m.order_no for m in members]))}
            Order.update(status=GROUP_FAILED, cancelled_at=now, cancel_reason=GROUP_FAILED_REASON).where(
                Order.order_no.in_(list(orders)), Order.status == GROUPING
            ).execute()
            for member in members:
                order = orders[member.order_no]
                enqueue_notice(
                    member.openid, "group_failed",
                    {"group_no": group.group_no, "goods": thing_value(order.title, "商品"),
                     "amount": format_fen(order.payable_fen), "closed_at": format_time(now)},
                    Priority.TRANSACTIONAL, now, dedup_key=f"group_failed:{group.group_no}:{member.openid}",
                )  # fmt: skip
        closed.append(group.group_no)
    return closed


def refunds_owed(now: datetime, limit: int = 500) -> list[str]:
    """Request the refund of every failed group's payment not yet requested; the refund numbers requested (a
    racing sweep may name the same one: the fixed number makes it one refund)."""
    owed = (
        Order.select(Order.order_no, Order.payable_fen)
        .where(Order.status == GROUP_FAILED)
        .where(Order.order_no.not_in(Refund.select(Refund.order_no).where(Refund.refund_no.startswith(REFUND_PREFIX))))
        .order_by(Order.id)
        .limit(limit)
    )
    requested = []
    for order in list(owed):
        try:
            refund = request_refund(order.order_no, order.payable_fen, "拼团未成团，款项原路退回", now,
                                    refund_no=refund_no_for(order.order_no))  # fmt: skip
        except RefundError:  # settled meanwhile (an operator refunded it by hand): nothing owed
            continue
        requested.append(refund.refund_no)
    return requested


def release_places(now: datetime, limit: int = 500) -> int:
    """Give back the places held by joiners whose unpaid order was cancelled; how many were freed."""
    stale = (
        GroupMember.select(GroupMember.id, GroupMember.group)
        .join(Order, on=(Order.order_no == GroupMember.order_no))
        .where(GroupMember.status == RESERVED, Order.status == ORDER_CANCELLED)
        .limit(limit)
    )
    freed = 0
    for member in list(stale):
        with write_transaction():
            if GroupMember.update(status=CANCELLED).where(
                GroupMember.id == member.id, GroupMember.status == RESERVED
            ).execute():
                Group.update(seats=Group.seats - 1).where(Group.id == member.group_id, Group.seats > 0).execute()
                freed += 1
    return freed


def void_unstarted(now: datetime, limit: int = 500) -> int:
    """Pending groups whose leader's order was cancelled unpaid never start; how many were closed."""
    cancelled_leaders = Order.select(Order.order_no).where(Order.status == ORDER_CANCELLED)
    stale = (
        GroupMember.select(GroupMember.group)
        .join(Group)
        .where(Group.status == PENDING, GroupMember.role == "leader", GroupMember.order_no.in_(cancelled_leaders))
        .limit(limit)
    )
    ids = [m.group_id for m in stale]
    if not ids:
        return 0
    with write_transaction():
        return Group.update(status=VOID, closed_at=now).where(Group.id.in_(ids), Group.status == PENDING).execute()
