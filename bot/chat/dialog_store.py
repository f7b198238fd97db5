"""The follower's conversation state in Redis: read in the gateway's dedup round trip, written back after the turn.

The engine's turn is pure (`dialogs.engine.Engine.turn`); this is the edge that loads its `Snapshot` and stores
its `TurnResult`. The Redis TTL is only garbage collection, set well past the business expiry the record holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import redis

from dialogs.state import Snapshot, TurnResult, encode, snapshot_of
from handlers.context import Command, StateIO
from store.core.keys import Keys

GC_MARGIN_S = 3600


class RedisDialogStore:
    """Implements `handlers.context.StatePort` over one Redis client."""

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
        values: Sequence[bytes | None] = (
            io.values if io is not None and len(io.values) == 4 else self.client.mget(self.keys(openid))
        )
        return snapshot_of(openid, values, now)

    def save(self, snap: Snapshot, result: TurnResult, now: datetime, io: StateIO | None = None) -> None:
        """Write what the turn changed (or leave the writes in `io`, for the gateway to send with its next round
        trip); an idle state is deleted instead, skipped when there is none stored."""
        dialog_key, human_key, default_key, greeting_key = self.keys(snap.openid)
        commands: list[Command] = []
        dialog = result.dialog
        if dialog is not None and not dialog.idle:
            dialog.expires_at = now.timestamp() + self.ttl_s
            commands.append(("SET", dialog_key, encode(dialog), "EX", self.ttl_s + GC_MARGIN_S))
        elif dialog is not None and snap.stored:
            commands.append(("DEL", dialog_key))
        if result.human_until:
            ttl = int(result.human_until - now.timestamp()) + GC_MARGIN_S
            commands.append(("SET", human_key, result.human_until, "EX", ttl))
        if result.default_reply_for_s:
            commands.append(("SET", default_key, now.timestamp(), "EX", result.default_reply_for_s + GC_MARGIN_S))
        if result.greeting_taken:
            commands.append(("DEL", greeting_key))
        if io is not None:
            io.writes.extend(commands)
            return
        if commands:
            with self.client.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                pipe.execute()

    def end_human(self, openid: str) -> None:
        self.client.delete(self.named.human(openid))

    def forget(self, openid: str) -> None:
        """Unsubscribe: every key of the follower (conversation, cart, windows…) is personal data."""
        self.client.delete(*self.named.personal(openid))
