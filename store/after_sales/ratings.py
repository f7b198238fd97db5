"""The buyer's satisfaction rating (满意度) of a closed ticket: asked once when the ticket closes, answered 1–5 in
chat (0 records "不评价"), kept on the ticket for the service KPI (store.after_sales.kpi).

`store.after_sales.tickets.ask_rating` runs in the transaction that closes the ticket: a conditional UPDATE of
`rating_asked_at` gates the `rating_request` notice, so a ticket is asked once however its closing is retried. A
rating is taken within `days` of the ask, for the follower's latest ticket asked and not yet rated; a second
answer changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from store.after_sales.tickets import DECLINED, Ticket
from store.core.db import write_transaction

SCORES = range(1, 6)


def awaiting_rating(openid: str, now: datetime, days: int) -> Ticket | None:
    """The follower's latest ticket asked for a rating within `days` and not rated yet."""
    query = (
        Ticket.select()
        .where(Ticket.openid == openid, Ticket.rating_asked_at >= now - timedelta(days=days),
               Ticket.rating_asked_at <= now, Ticket.rating.is_null())
        .order_by(Ticket.rating_asked_at.desc(), Ticket.id.desc())
    )  # fmt: skip
    return query.first()


def rate(openid: str, score: int, now: datetime, days: int) -> Ticket | None:
    """Record `score` (1–5, or DECLINED) on the ticket awaiting it; None when none awaits."""
    if score != DECLINED and score not in SCORES:
        raise ValueError(f"a rating is 1..5 or {DECLINED}, got {score}")
    ticket = awaiting_rating(openid, now, days)
    if ticket is None:
        return None
    with write_transaction():
        moved = (
            Ticket.update(rating=score, rated_at=now)
            .where(Ticket.id == ticket.id, Ticket.rating.is_null())
            .execute()
        )
    return Ticket.get_by_id(ticket.id) if moved else None
