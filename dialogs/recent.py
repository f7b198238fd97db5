"""What the follower was shown last — a product list — kept a little while for follow-ups ("便宜一点的", "第二个").

It lives in the dialog record (`DialogState.recent`), so it outlasts the flow that showed it and a question or two
in between. It lapses RECENT_S after the list was last shown or used, or after RECENT_TURNS messages about
something else: "第二个" an hour later, or after a chat about parcels, no longer means that list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["RECENT_S", "RECENT_TURNS", "after_turn", "live", "shown"]

RECENT_S = 600
RECENT_TURNS = 5


def live(recent: dict[str, Any], now: datetime) -> dict[str, Any]:
    """`recent` while it still holds, else empty."""
    if not recent or now.timestamp() - recent.get("at", 0.0) >= RECENT_S or recent.get("turns", 0) >= RECENT_TURNS:
        return {}
    return recent


def shown(now: datetime, **fields: Any) -> dict[str, Any]:
    """A fresh record: a list just shown or used."""
    return {**fields, "at": now.timestamp(), "turns": 0}


def after_turn(loaded: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """What to keep after a turn: a record the turn replaced as it is; the one it only carried, a turn older."""
    if current is loaded and current:
        return {**current, "turns": current.get("turns", 0) + 1}
    return current
