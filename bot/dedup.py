"""Exactly-once handling of WeChat's retries, across processes, through one Redis key per message.

The first attempt claims the key (SET NX) and runs the handler; the key then holds the rendered reply, so a
retry gets the same answer. A retry that arrives while the first attempt runs polls the key until its own
deadline. When the first attempt's deadline passes, the key says "late": the reply will go out as a
customer-service message, and any retry answers empty so the follower never gets it twice. Both transitions
out of "pending" are compare-and-set, so a reply finishing exactly at the deadline is delivered one way only.

Claim and answer run on the handler's thread with the sync client (one hop off the event loop, and a sync
round trip costs far less than an asyncio one); only the rare waiting retry polls from the loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

PENDING = b"P"
LATE = b"L"
DONE = b"D"
POLL_S = 0.01

# Move "P" to the new value; return the value found (so a loser learns what the winner stored).
_SETTLE = """
local current = redis.call('GET', KEYS[1])
if current == 'P' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 'P' end
return current
"""


@dataclass(frozen=True)
class Seen:
    """What an attempt found: still running, answered (with its reply XML), or gone late."""

    state: bytes
    xml: str = ""


class ReplyCache:
    def __init__(
        self,
        client: redis.Redis,
        aclient: aioredis.Redis,
        prefix: str,
        pending_ttl_s: int = 60,
        done_ttl_s: int = 120,
    ) -> None:
        self.client = client
        self.aclient = aclient
        self.prefix = prefix
        self.pending_ttl_s = pending_ttl_s
        self.done_ttl_s = done_ttl_s
        self._settle = client.register_script(_SETTLE)
        self._asettle = aclient.register_script(_SETTLE)

    def _key(self, message_key: str) -> str:
        return f"{self.prefix}dedup:{message_key}"

    def claim(self, message_key: str) -> Seen | None:
        """Claim the message for this attempt (None), or return what an earlier attempt left."""
        key = self._key(message_key)
        if self.client.set(key, PENDING, nx=True, ex=self.pending_ttl_s):
            return None
        value = self.client.get(key)
        return _decode(value) if value is not None else Seen(PENDING)

    def answered(self, message_key: str, xml: str) -> bool:
        """Store the reply unless the attempt already went late; True when stored."""
        found = self._settle(keys=[self._key(message_key)], args=[DONE + xml.encode(), self.done_ttl_s])
        return found == PENDING

    async def gone_late(self, message_key: str) -> Seen | None:
        """Mark the message late; if the reply landed first, return it instead (None when marked late)."""
        found = await self._asettle(keys=[self._key(message_key)], args=[LATE, self.done_ttl_s])
        return None if found in (PENDING, None) else _decode(found)

    async def wait(self, message_key: str, deadline: float) -> Seen:
        """Poll until the first attempt answers or goes late, or until `deadline` (monotonic)."""
        key = self._key(message_key)
        while time.monotonic() < deadline:
            value = await self.aclient.get(key)
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
