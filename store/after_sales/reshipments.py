"""Reshipment after an approved exchange (换货 → 包邮新政): the replacement goes out free of shipping as a parcel of its
own, tracked like any other.

Approving an exchange leaves the ticket `reshipping` (store.after_sales.tickets.approve); it then waits among the
tickets to ship (`GET /admin/api/after-sales?status=reshipping`). `ship_reshipment` records the parcel as a
`Shipment` whose reference (`order_no`) is the case number and whose `source_order_no` is the exchanged order (its
address and phone), moves the ticket to `reshipped` (closed), tells the buyer (`reshipped` notice) and asks for a
rating, in one transaction. From there the parcel is the logistics domain's: the `subscribe_parcels` job, pushes,
polling, 查快递 in chat, tracking notices and the not-collected alerts all treat it as any shipment. Shipping the
same parcel again returns it unchanged; another parcel is refused.
"""

from __future__ import annotations

from datetime import datetime

import peewee

from store.after_sales.tickets import RESHIPPED, RESHIPPING, Ticket, ask_rating, get_ticket
from store.core.db import write_transaction
from store.logistics.shipments import AlreadyShipped, NotShippable, Shipment, Shipped, carrier_name, check_parcel
from store.outbox.kinds import Priority, format_time
from store.outbox.notices import enqueue_notice


def reshipment_of(case_no: str) -> Shipment | None:
    return Shipment.get_or_none(Shipment.order_no == case_no)


def ship_reshipment(case_no: str, carrier: str, tracking_no: str, now: datetime) -> Shipped:
    """Ship the replacement of an approved exchange (see the module docstring)."""
    carrier, tracking_no = check_parcel(carrier, tracking_no)
    try:
        with write_transaction():
            ticket = get_ticket(case_no)
            existing = _same_parcel(case_no, carrier, tracking_no)
            if existing is not None:
                return Shipped(existing, False)
            if ticket.status != RESHIPPING:
                raise NotShippable(f"ticket {case_no} is {ticket.status}: only an approved exchange is reshipped")
            moved = (
                Ticket.update(status=RESHIPPED, closed_at=now, open_key=None)
                .where(Ticket.id == ticket.id, Ticket.status == RESHIPPING)
                .execute()
            )
            if not moved:
                raise NotShippable(f"ticket {case_no} changed while shipping")
            shipment = Shipment.create(
                order_no=case_no, source_order_no=ticket.order_no, openid=ticket.openid, carrier=carrier,
                tracking_no=tracking_no, shipped_at=now, sub_due_at=now,
            )  # fmt: skip
            enqueue_notice(
                ticket.openid, "reshipped",
                {"case_no": case_no, "carrier": carrier_name(carrier)[:20], "tracking_no": tracking_no,
                 "shipped_at": format_time(now)},
                Priority.TRANSACTIONAL, now, dedup_key=f"reshipped:{case_no}",
            )  # fmt: skip
            ask_rating(ticket, now)
            return Shipped(shipment, True)
    except peewee.IntegrityError:  # shipped concurrently: the other call's parcel stands
        existing = _same_parcel(case_no, carrier, tracking_no)
        if existing is None:
            raise NotShippable(f"ticket {case_no} changed while shipping") from None
        return Shipped(existing, False)


def _same_parcel(case_no: str, carrier: str, tracking_no: str) -> Shipment | None:
    """The reshipment when it is this very parcel; `AlreadyShipped` when it is another."""
    existing = reshipment_of(case_no)
    if existing is None:
        return None
    if (existing.carrier, existing.tracking_no) != (carrier, tracking_no):
        raise AlreadyShipped(f"ticket {case_no} was reshipped as {existing.carrier} {existing.tracking_no}")
    return existing
