"""Per-follower conversation state in Redis: a small typed, versioned record, read in one round trip.

Expiry is judged by the injected clock (`expires_at` inside the record), so tests move time instead of
sleeping; the Redis TTL is only garbage collection and is set well past the business expiry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from store.core.keys import Keys

VERSION = 1
GC_MARGIN_S = 3600


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


@dataclass(frozen=True)
class Snapshot:
    """Everything the engine needs about one follower, fetched together."""

    dialog: DialogState
    expired_flow: str  # the flow that timed out since the last message ("" when none)
    human_until: float  # epoch seconds while a human agent has the conversation, else 0
    last_default_reply: float  # epoch seconds of the last default reply, else 0
    greeting: bool = False  # a greeting waits (the birthday gift: store.members.birthdays sets the flag)
    stored: bool = True  # a dialog record exists in Redis (False: nothing to delete when the turn ends idle)


@dataclass
class StateIO:
    """The follower's state as the inbound gateway read it (MGET of `DialogStore.keys`, in its dedup round trip),
    and the state write this turn leaves for the gateway to send on that same connection once the handler is
    done (before the reply goes out, so the follower's next message reads it): the handler thread then makes no
    Redis round trip for the conversation state."""

    values: Sequence[bytes | None]
    writes: list[tuple[str | bytes | int, ...]] = field(default_factory=list)


class DialogStore:
    def __init__(self, client: redis.Redis, prefix: str, ttl_s: int) -> None:
        self.client = client
        self.named = Keys(prefix)
        self.ttl_s = ttl_s

    def keys(self, openid: str) -> list[str]:
        """What `load` reads, in order (the inbound gateway fetches them in its dedup round trip)."""
        named = self.named
        return [named.dialog(openid), named.human(openid), named.default_reply(openid), named.greeting(openid)]

    def load(self, openid: str, now: datetime, io: StateIO | None = None) -> Snapshot:
        """The follower's snapshot, from `io` when the gateway read it already."""
        raw = io.values if io is not None and len(io.values) == 4 else self.client.mget(self.keys(openid))
        raw_dialog, raw_human, raw_default, raw_greeting = raw
        dialog, expired = DialogState(), ""
        if raw_dialog:
            loaded = _decode(raw_dialog)
            if loaded is not None and loaded.expires_at > now.timestamp():
                dialog = loaded
            elif loaded is not None and loaded.active:
                expired = loaded.flow
        human = float(raw_human or 0)
        human = human if human > now.timestamp() else 0.0
        return Snapshot(
            dialog, expired, human, float(raw_default or 0), greeting=raw_greeting is not None, stored=bool(raw_dialog)
        )

    def save(
        self, openid: str, dialog: DialogState, now: datetime, stored: bool = True, io: StateIO | None = None
    ) -> None:
        """Write the state back (or leave the write in `io`); an idle state is deleted instead, skipped when
        `stored` says there is none."""
        key = self.keys(openid)[0]
        if not dialog.active and not dialog.misses and not dialog.recent:
            command: tuple[str | bytes | int, ...] = ("DEL", key)
            if not stored:
                return
        else:
            dialog.expires_at = now.timestamp() + self.ttl_s
            payload = json.dumps(vars(dialog), ensure_ascii=False, separators=(",", ":"))  # asdict deep-copies slots
            command = ("SET", key, payload, "EX", self.ttl_s + GC_MARGIN_S)
        if io is not None:
            io.writes.append(command)
        else:
            self.client.execute_command(*command)

    def hand_to_human(self, openid: str, until: datetime, now: datetime) -> None:
        ttl = int(until.timestamp() - now.timestamp()) + GC_MARGIN_S
        self.client.set(self.keys(openid)[1], until.timestamp(), ex=ttl)

    def end_human(self, openid: str) -> None:
        self.client.delete(self.keys(openid)[1])

    def mark_default_reply(self, openid: str, now: datetime, interval_s: int, io: StateIO | None = None) -> None:
        """Note the default reply's time (or leave the write in `io`, to go out with the state write)."""
        command = ("SET", self.keys(openid)[2], now.timestamp(), "EX", interval_s + GC_MARGIN_S)
        if io is not None:
            io.writes.append(command)
        else:
            self.client.execute_command(*command)

    def clear_greeting(self, openid: str) -> None:
        self.client.delete(self.keys(openid)[3])

    def forget(self, openid: str) -> None:
        """Unsubscribe: every key of the follower (conversation, cart, windows…) is personal data."""
        self.client.delete(*self.named.personal(openid))


def _decode(raw: bytes) -> DialogState | None:
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
