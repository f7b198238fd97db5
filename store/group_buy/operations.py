"""拼团 operations: offers, opening a group (开团), joining one (参团) and admitting a payment into it.

Synchronous, take `now`; run them on a handler thread. Each joiner (the leader included) gets an ordinary order
at the group price (`create_order(fixed_prices=…)`) and a `GroupMember` row, in one transaction with the seat
taken. Payment goes through the usual `store.orders.payments.mark_paid`, which calls `admit_payment` inside its
transaction: that is where a group starts (the leader's payment), fills (the size-th payment: every member's
order goes `grouping → paid` and each member gets one `group_full` notice) or refuses a payment that arrived
after the group closed (the order is cancelled and `mark_paid` refunds that payment as a late payment).

Over-filling is impossible: a place is a conditional `seats = seats + 1 WHERE seats < size AND status = 'open'`,
and a payment a conditional `paid = paid + 1 WHERE paid < size AND status = 'open' AND expires_at > now`, both on
the group's row, so concurrent joiners and payments queue on that row and the one past the size is refused.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from store.catalog.inventory import UnknownSku, release_stock
from store.catalog.offers import active_offer, replace_offer, sale_number
from store.catalog.products import Sku
from store.core.db import write_transaction
from store.group_buy.models import (
    CANCELLED,
    FULL,
    JOINER,
    LEADER,
    OPEN,
    PENDING,
    RESERVED,
    Group,
    GroupMember,
    GroupOffer,
)
from store.group_buy.models import PAID as MEMBER_PAID
from store.orders.addresses import Address, AddressInput
from store.orders.checkout import GROUPING, PAID, UNPAID, CartLine, Order, OrderLine, ShopRules, create_order
from store.outbox.kinds import Priority, format_time
from store.outbox.notices import enqueue_notice
from store.outbox.template_lint import thing_value

SCENE_PREFIX = "grp_"  # QR scene of a group's share code: grp_{group_no}


class GroupBuyError(Exception):
    """Refused; `str()` is a Chinese sentence for the follower."""


class NoOffer(GroupBuyError):
    def __init__(self) -> None:
        super().__init__("这件商品暂时没有拼团活动")


class GroupClosed(GroupBuyError):
    def __init__(self) -> None:
        super().__init__("这个团已经满员或结束了，您可以回复“开团”自己开一个")


class LimitReached(GroupBuyError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"每人最多参加{limit}个这件商品的拼团")


class AlreadyMember(GroupBuyError):
    def __init__(self) -> None:
        super().__init__("您已经在这个团里了")


@dataclass(frozen=True)
class OfferInput:
    sku_id: int
    size: int
    window_hours: int
    price_fen: int
    limit_per_follower: int = 1
    active: bool = True

    def problems(self) -> list[str]:
        found = []
        if self.size < 2:
            found.append("size must be at least 2")
        if self.window_hours <= 0:
            found.append("window_hours must be positive")
        if self.price_fen <= 0:
            found.append("price_fen must be positive")
        if self.limit_per_follower < 0:
            found.append("limit_per_follower must be >= 0")
        return found


def set_offer(offer: OfferInput, now: datetime) -> GroupOffer:
    """Create or replace the SKU's group offer (groups already opened keep their own size, price and window)."""
    problems = offer.problems()
    if problems:
        raise ValueError("; ".join(problems))
    if Sku.get_or_none(Sku.id == offer.sku_id) is None:
        raise ValueError(f"no SKU {offer.sku_id}")
    fields = dict(size=offer.size, window_hours=offer.window_hours, price_fen=offer.price_fen,
                  limit_per_follower=offer.limit_per_follower, active=offer.active, updated_at=now)  # fmt: skip
    return replace_offer(GroupOffer, offer.sku_id, fields)


def offer_for(sku_id: int) -> GroupOffer | None:
    return active_offer(GroupOffer, sku_id)


def new_group_no(now: datetime) -> str:
    return sale_number("G", now)


def share_link(public_url: str, group_no: str) -> str:
    return f"{public_url.rstrip('/')}/g/{group_no}"


def _check_limit(offer: GroupOffer, openid: str) -> None:
    if offer.limit_per_follower <= 0:
        return
    held = (
        GroupMember.select()
        .join(Group)
        .where(Group.offer == offer.id, GroupMember.openid == openid, GroupMember.status != CANCELLED)
        .count()
    )
    if held >= offer.limit_per_follower:
        raise LimitReached(offer.limit_per_follower)


def start_group(
    openid: str, sku_id: int, address: AddressInput | Address | None, now: datetime, *, rules: ShopRules
) -> tuple[Group, Order]:
    """开团: a pending group and the leader's unpaid order at the group price; the group opens when it is paid."""
    offer = offer_for(sku_id)
    if offer is None:
        raise NoOffer()
    with write_transaction():
        _check_limit(offer, openid)
        order = create_order(openid, [CartLine(sku_id, 1)], address, [], 0, now, rules=rules,
                             fixed_prices={sku_id: offer.price_fen})  # fmt: skip
        group = Group.create(
            group_no=new_group_no(now), offer=offer.id, sku_id=sku_id, leader_openid=openid, size=offer.size,
            price_fen=offer.price_fen, window_hours=offer.window_hours, status=PENDING, seats=1, paid=0,
            created_at=now,
        )  # fmt: skip
        GroupMember.create(group=group.id, openid=openid, order_no=order.order_no, role=LEADER, joined_at=now)
    return group, order


def join_group(
    openid: str, group_no: str, address: AddressInput | Address | None, now: datetime, *, rules: ShopRules
) -> tuple[Group, Order]:
    """参团: take a place in an open group (refused with `GroupClosed` when it is full or over) and an unpaid
    order at its price. The place is held until the order is paid or cancelled (`sweeps.release_places`)."""
    group = Group.get_or_none(Group.group_no == group_no)
    if group is None or group.status != OPEN:
        raise GroupClosed()
    if GroupMember.select().where(GroupMember.group == group.id, GroupMember.openid == openid).exists():
        raise AlreadyMember()
    offer = GroupOffer.get_by_id(group.offer_id)
    with write_transaction():
        _check_limit(offer, openid)
        took = (
            Group.update(seats=Group.seats + 1)
            .where(Group.id == group.id, Group.status == OPEN, Group.seats < Group.size, Group.expires_at > now)
            .execute()
        )
        if not took:
            raise GroupClosed()
        order = create_order(openid, [CartLine(group.sku_id, 1)], address, [], 0, now, rules=rules,
                             fixed_prices={group.sku_id: group.price_fen})  # fmt: skip
        try:
            with write_transaction():
                GroupMember.create(group=group.id, openid=openid, order_no=order.order_no, role=JOINER, joined_at=now)
        except peewee.IntegrityError:  # the same follower joining twice at once
            raise AlreadyMember() from None
    return Group.get_by_id(group.id), order


def admit_payment(order_no: str, now: datetime) -> bool:
    """Inside `mark_paid`'s transaction, just after the order moved `unpaid → paid`: place the payment in its
    group. True when the order may keep the money (not a group order, or admitted); False when the group
    closed first — the order is then cancelled (stock back) and the caller refunds the payment."""
    member = GroupMember.get_or_none(GroupMember.order_no == order_no)
    if member is None:
        return True
    group = Group.get_by_id(member.group_id)
    if member.role == LEADER:
        admitted = (
            Group.update(status=OPEN, paid=1, opened_at=now, expires_at=now + timedelta(hours=group.window_hours))
            .where(Group.id == group.id, Group.status == PENDING)
            .execute()
        )
    else:
        admitted = (
            Group.update(paid=Group.paid + 1)
            .where(Group.id == group.id, Group.status == OPEN, Group.paid < Group.size, Group.expires_at > now)
            .execute()
        )
    if not admitted:
        _turn_away(member, order_no, now)
        return False
    GroupMember.update(status=MEMBER_PAID).where(GroupMember.id == member.id).execute()
    group = Group.get_by_id(group.id)  # our own update holds the row: `paid` is exact
    if group.paid < group.size:
        Order.update(status=GROUPING).where(Order.order_no == order_no, Order.status == PAID).execute()
        return True
    _fill(group, now)
    return True


def _turn_away(member: GroupMember, order_no: str, now: datetime) -> None:
    Order.update(status="cancelled", cancelled_at=now, cancel_reason="group_closed").where(
        Order.order_no == order_no, Order.status.in_([PAID, UNPAID])
    ).execute()
    order = Order.get(Order.order_no == order_no)
    for line in OrderLine.select().where(OrderLine.order == order.id):
        with contextlib.suppress(UnknownSku):
            release_stock(line.sku_id, line.quantity)
    freed = GroupMember.update(status=CANCELLED).where(GroupMember.id == member.id, GroupMember.status == RESERVED)
    if freed.execute():
        Group.update(seats=Group.seats - 1).where(Group.id == member.group_id, Group.seats > 0).execute()


def _fill(group: Group, now: datetime) -> None:
    """The group is complete: close it, send every paid order to shipping and tell each member once."""
    if not Group.update(status=FULL, closed_at=now).where(Group.id == group.id, Group.status == OPEN).execute():
        return
    members = list(GroupMember.select().where(GroupMember.group == group.id, GroupMember.status == MEMBER_PAID))
    orders = [m.order_no for m in members]
    Order.update(status=PAID).where(Order.order_no.in_(orders), Order.status == GROUPING).execute()
    title = Order.get(Order.order_no == orders[0]).title
    for member in members:
        enqueue_notice(
            member.openid, "group_full",
            {"group_no": group.group_no, "goods": thing_value(title, "商品"), "members": group.size,
             "formed_at": format_time(now)},
            Priority.TRANSACTIONAL, now, dedup_key=f"group_full:{group.group_no}:{member.openid}",
        )  # fmt: skip


def group_view(group_no: str) -> tuple[Group, list[GroupMember]] | None:
    """A group and its members who paid (the share page)."""
    group = Group.get_or_none(Group.group_no == group_no)
    if group is None:
        return None
    members = list(
        GroupMember.select().where(GroupMember.group == group.id, GroupMember.status == MEMBER_PAID)
        .order_by(GroupMember.id)
    )  # fmt: skip
    return group, members
