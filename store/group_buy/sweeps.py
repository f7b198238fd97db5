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

from store.core.db import is_sqlite, write_transaction
from store.group_buy.models import CANCELLED, FAILED, OPEN, PENDING, RESERVED, VOID, Group, GroupMember
from store.group_buy.models import PAID as MEMBER_PAID
from store.orders.checkout import CANCELLED as ORDER_CANCELLED
from store.orders.checkout import GROUP_FAILED, GROUP_FAILED_REASON, GROUPING, Order
from store.orders.payments import Refund
from store.orders.refunds import request_full_refunds
from store.outbox.kinds import Priority, format_fen, format_time
from store.outbox.notices import NoticeRequest, enqueue_notices
from store.outbox.template_lint import thing_value

REFUND_PREFIX = "GB"
REFUND_REASON = "拼团未成团，款项原路退回"
BATCH = 500  # groups or orders per transaction: a few statements each, short enough not to hold up checkouts


def refund_no_for(order_no: str) -> str:
    return f"{REFUND_PREFIX}{order_no}"


def fail_expired(now: datetime, limit: int = 100_000) -> list[str]:
    """Close groups whose window is over, `BATCH` to a transaction; the group numbers closed by this run."""
    closed: list[str] = []
    while len(closed) < limit:
        with write_transaction():
            due = (
                Group.select(Group.id, Group.group_no)
                .where(Group.status == OPEN, Group.expires_at <= now)
                .order_by(Group.expires_at, Group.id)
                .limit(min(BATCH, limit - len(closed)))
            )
            groups = list(due if is_sqlite() else due.for_update("FOR UPDATE SKIP LOCKED"))  # racing sweeps split
            if not groups:
                break
            _close(groups, now)
        closed.extend(g.group_no for g in groups)
    return closed


def _close(groups: list[Group], now: datetime) -> None:
    """The groups (locked, still open) fail; each paid member's order `grouping → group_failed`, and one
    `group_failed` notice per member."""
    numbers = {g.id: g.group_no for g in groups}
    ids = list(numbers)
    Group.update(status=FAILED, closed_at=now).where(Group.id.in_(ids)).execute()
    paid = (GroupMember.group.in_(ids)) & (GroupMember.status == MEMBER_PAID)
    members = list(
        GroupMember.select(GroupMember.group, GroupMember.openid, Order.title, Order.payable_fen, Order.order_no)
        .join(Order, on=(Order.order_no == GroupMember.order_no))
        .where(paid)
        .tuples()
    )
    closed_at = format_time(now)
    enqueue_notices(
        [
            NoticeRequest(
                openid, "group_failed",
                {"group_no": numbers[group_id], "goods": thing_value(title, "商品"), "amount": format_fen(payable),
                 "closed_at": closed_at},
                Priority.TRANSACTIONAL, f"group_failed:{numbers[group_id]}:{openid}",
            )
            for group_id, openid, title, payable, _ in members
        ],
        now,
    )  # fmt: skip
    Order.update(status=GROUP_FAILED, cancelled_at=now, cancel_reason=GROUP_FAILED_REASON).where(
        Order.order_no.in_([m[4] for m in members]), Order.status == GROUPING
    ).execute()


def refunds_owed(now: datetime, limit: int = 100_000) -> list[str]:
    """Request the refund of every failed group's payment not yet requested, `BATCH` to a transaction; the refund
    numbers requested (each order's is fixed, `GB{order_no}`, so a racing sweep cannot make it two)."""
    requested: list[str] = []
    after = 0
    while len(requested) < limit:
        with write_transaction():
            owed = (
                Order.select(Order.id, Order.order_no, Order.payable_fen, Order.shipped_at)
                .where(Order.status == GROUP_FAILED, Order.id > after)
                .order_by(Order.id)
                .limit(min(BATCH, limit - len(requested)))
            )  # fmt: skip
            orders = list(owed if is_sqlite() else owed.for_update("FOR UPDATE SKIP LOCKED"))
            if not orders:
                break
            asked = {r[0] for r in Refund.select(Refund.refund_no).where(  # refused by WeChat once: an operator's now
                Refund.refund_no.in_([refund_no_for(o.order_no) for o in orders])).tuples()}  # fmt: skip
            owed = [o for o in orders if refund_no_for(o.order_no) not in asked]
            requested.extend(request_full_refunds(owed, REFUND_REASON, now, refund_no_for))
        after = orders[-1].id  # an order left as it is (refunded by hand) is not asked about again this run
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
