"""The 砍价 expiry sweep: open bargains whose window ended close as `expired` in one conditional UPDATE, safe to
re-run (a closed bargain no longer matches) and quick over a hundred thousand rows (`benchmarks/sweeps.py`).
Nothing is owed on expiry: no money was taken, and a bargain bought before it expired is `ordered`, not open."""

from __future__ import annotations

from datetime import datetime

from store.bargain.models import EXPIRED, OPEN, Bargain
from store.core.db import write_lock


def expire_bargains(now: datetime) -> int:
    """Close every open bargain whose window is over; how many were closed."""
    with write_lock():
        return (
            Bargain.update(status=EXPIRED, closed_at=now)
            .where(Bargain.status == OPEN, Bargain.expires_at <= now)
            .execute()
        )
