"""WeChat's rule on unsubscribe: delete the follower's personal data ("开发者收到用户取消关注事件时需要删除该用户的
所有信息"), while keeping the order records a merchant must keep — anonymised.

What goes: saved addresses, the birthday, the shipping address on orders that are finished (completed,
cancelled, refunded), the openid on the new-follower gift ledger (its one-way digest stays, so the gift is still
given once per openid forever: store.promotions.gifts), their 到货/降价提醒 watches. What stays: the
pseudonymous openid on orders, amounts and lines (accounting), and the addresses of orders still in progress (paid
or shipped parcels must still arrive; they are cleared when the follower's orders finish and this runs again, or
by an operator). Conversation state in Redis is dropped by the dialog engine.
"""

from __future__ import annotations

from datetime import datetime

from store.after_sales import tickets as after_sales
from store.catalog.watches import unwatch
from store.core.db import write_transaction
from store.members.followers import Follower
from store.orders.addresses import Address
from store.orders.checkout import CANCELLED, COMPLETED, REFUNDED, Order
from store.outbox.payment_windows import forget_payment_window
from store.promotions.gifts import forget_openid as forget_gift_openid

FINISHED = (COMPLETED, CANCELLED, REFUNDED)
TICKETS_CLOSED = (after_sales.REFUNDED, after_sales.APPROVED, after_sales.REFUSED, after_sales.RESHIPPED)


def forget_follower(openid: str, now: datetime) -> dict[str, int]:
    """Erase what identifies the person; returns what was removed, for the log."""
    with write_transaction():
        followers = (
            Follower.update(
                subscribed=False, unfollowed_at=now, followed_at=None, birthday=None, birthday_set_at=None
            )
            .where(Follower.openid == openid)
            .execute()
        )
        addresses = Address.delete().where(Address.openid == openid).execute()
        orders = (
            Order.update(ship_name=None, ship_phone=None, ship_region=None, ship_detail=None)
            .where(Order.openid == openid, Order.status.in_(FINISHED), Order.ship_name.is_null(False))
            .execute()
        )
        gifts = forget_gift_openid(openid, now)
        watches = unwatch(openid)
        forget_payment_window(openid)
        tickets = (
            after_sales.Ticket.update(reason="（已删除）", photos="[]")
            .where(after_sales.Ticket.openid == openid, after_sales.Ticket.status.in_(TICKETS_CLOSED))
            .execute()
        )
    return {
        "follower": followers,
        "addresses": addresses,
        "orders_anonymised": orders,
        "gift_unlinked": gifts,
        "tickets": tickets,
        "watches": watches,
    }
