"""The customer-service windows payments open, kept in the database: the fact the outbox decides a paid notice's
channel by must survive Redis (store.outbox.windows holds every window in Redis, where a restart or an outage
loses it).

`open_payment_window` runs inside `mark_paid`'s transaction, so a payment and its window commit together; the
dispatcher asks `open_payment_windows` about the followers Redis knows no open window for, and writes what it
finds back into Redis (the cache). One row per follower: the latest payment's time; a payment window is
unlimited for 48 h (WECHAT.md §2.2), so nothing else needs keeping.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField
from store.outbox.windows import WINDOW_LONG

ID_CHUNK = 300


class PaymentWindow(BaseModel):
    openid = peewee.CharField(max_length=64, primary_key=True)
    opened_at = ShanghaiDateTimeField()


def open_payment_window(openid: str, now: datetime) -> None:
    """Record that `openid` paid at `now` (call it in the payment's transaction); an older time never replaces a
    newer one."""
    if not openid:
        return
    (
        PaymentWindow.insert(openid=openid, opened_at=now)
        .on_conflict(
            conflict_target=[PaymentWindow.openid],
            update={PaymentWindow.opened_at: now},
            where=PaymentWindow.opened_at < now,
        )
        .execute()
    )


def open_payment_windows(openids: Iterable[str], now: datetime) -> dict[str, datetime]:
    """Of these followers, the ones a payment gave an open window at `now`: openid → when it opened."""
    wanted = sorted(set(openids))
    found: dict[str, datetime] = {}
    for i in range(0, len(wanted), ID_CHUNK):
        query = PaymentWindow.select(PaymentWindow.openid, PaymentWindow.opened_at).where(
            PaymentWindow.openid.in_(wanted[i : i + ID_CHUNK]),
            PaymentWindow.opened_at > now - WINDOW_LONG,
            PaymentWindow.opened_at <= now,
        )
        found.update(query.tuples())
    return found


def forget_payment_window(openid: str) -> int:
    """The follower's data is being erased: their payment window goes with it."""
    return PaymentWindow.delete().where(PaymentWindow.openid == openid).execute()
