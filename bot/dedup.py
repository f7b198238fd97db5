"""Exactly-once handling of WeChat's retries, across processes, through one Redis key per message.

The first attempt claims the key (SET NX) and runs the handler; the key then holds the rendered reply, so a
retry gets the same answer. A retry that arrives while the first attempt runs polls the key until its own
deadline. When the first attempt's deadline passes, the key says "late": the reply will go out as a
customer-service message, and any retry answers empty so the follower never gets it twice.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

PENDING = b"P"
LATE = b"L"
DONE = b"D"
POLL_S = 0.01


@dataclass(frozen=True)
class Seen:
    """What an earlier attempt left: still running, answered (with its reply XML), or gone late."""

    state: bytes
    xml: str = ""


class ReplyCache:
    def __init__(self, client: aioredis.Redis, prefix: str, pending_ttl_s: int = 60, done_ttl_s: int = 120) -> None:
        self.client = client
        self.prefix = prefix
        self.pending_ttl_s = pending_ttl_s
        self.done_ttl_s = done_ttl_s

    def _key(self, message_key: str) -> str:
        return f"{self.prefix}dedup:{message_key}"

    async def claim(self, message_key: str) -> Seen | None:
        """Claim the message for this attempt (None), or return what an earlier attempt left."""
        key = self._key(message_key)
        if await self.client.set(key, PENDING, nx=True, ex=self.pending_ttl_s):
            return None
        value = await self.client.get(key)
        return _decode(value) if value is not None else Seen(PENDING)

    async def answered(self, message_key: str, xml: str) -> None:
        await self.client.set(self._key(message_key), DONE + xml.encode(), ex=self.done_ttl_s)

    async def gone_late(self, message_key: str) -> None:
        await self.client.set(self._key(message_key), LATE, ex=self.done_ttl_s)

    async def wait(self, message_key: str, deadline: float) -> Seen:
        """Poll until the first attempt answers or goes late, or until `deadline` (monotonic)."""
        key = self._key(message_key)
        while time.monotonic() < deadline:
            value = await self.client.get(key)
            if value is None:
                return Seen(LATE)  # expired or lost: the first attempt owns delivery
            seen = _decode(value)
            if seen.state != PENDING:
                return seen
            await asyncio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
        return Seen(PENDING)


def _decode(value: bytes) -> Seen:
    if value.startswith(DONE):
        return Seen(DONE, value[1:].decode())
    return Seen(value[:1])
