"""A follower's conversation state: a small typed, versioned record, and what one turn changes about it.

The engine never reads or writes it itself: the gateway reads the record in its dedup round trip, the engine's
`turn` takes the `Snapshot` and returns a `TurnResult`, and the gateway writes the changes back on that same
connection (`bot.chat.dialog_store`). Expiry is judged by the injected clock (`expires_at` inside the record),
so tests move time instead of sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

VERSION = 1


@dataclass
class DialogState:
    """Where a follower is: the active flow and state (empty when none), its slots, and consecutive misses."""

    flow: str = ""
    state: str = ""
    slots: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    misses: int = 0
    expires_at: float = 0.0
    recent: dict[str, Any] = field(default_factory=dict)  # the last product list shown (dialogs.recent)
    v: int = VERSION

    @property
    def active(self) -> bool:
        return bool(self.flow)

    @property
    def idle(self) -> bool:
        """Nothing worth keeping: no flow, no misses counted, no list in view."""
        return not self.active and not self.misses and not self.recent


@dataclass(frozen=True)
class Snapshot:
    """Everything the engine needs about one follower, fetched together."""

    openid: str
    dialog: DialogState = field(default_factory=DialogState)
    expired_flow: str = ""  # the flow that timed out since the last message ("" when none)
    human_until: float = 0.0  # epoch seconds while a human agent has the conversation, else 0
    last_default_reply: float = 0.0  # epoch seconds of the last default reply, else 0
    greeting: bool = False  # a greeting waits (the birthday gift: store.members.birthdays sets the flag)
    stored: bool = False  # a dialog record exists (False: nothing to delete when the turn ends idle)


@dataclass(frozen=True)
class TurnResult:
    """What one turn says and changes: the answer, the state to keep, and the follower's other marks."""

    answer: Any  # dialogs.replies.Answer
    dialog: DialogState | None  # the state to keep; None leaves the stored one as it is
    human_until: float = 0.0  # hold (or extend) the human agent's session until then
    default_reply_for_s: int = 0  # the default reply was given: remember it for this long
    greeting_taken: bool = False  # the waiting greeting was said: clear its flag


def snapshot_of(openid: str, values: Sequence[bytes | str | None], now: datetime) -> Snapshot:
    """The snapshot from the four stored values (dialog, human hold, last default reply, greeting flag)."""
    raw_dialog, raw_human, raw_default, raw_greeting = values
    dialog, expired = DialogState(), ""
    if raw_dialog:
        loaded = decode(raw_dialog)
        if loaded is not None and loaded.expires_at > now.timestamp():
            dialog = loaded
        elif loaded is not None and loaded.active:
            expired = loaded.flow
    human = float(raw_human or 0)
    return Snapshot(
        openid,
        dialog,
        expired,
        human if human > now.timestamp() else 0.0,
        float(raw_default or 0),
        greeting=raw_greeting is not None,
        stored=bool(raw_dialog),
    )


def encode(dialog: DialogState) -> str:
    return json.dumps(vars(dialog), ensure_ascii=False, separators=(",", ":"))  # asdict deep-copies slots


def decode(raw: bytes | str) -> DialogState | None:
    """A record from an older (or newer) version is dropped, never half-read."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        return None
    try:
        return DialogState(**data)
    except TypeError:
        return None
