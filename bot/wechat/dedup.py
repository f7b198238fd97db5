"""Exactly-once handling of WeChat's retries, across processes, through one Redis key per message.

The first attempt claims the key (SET NX) and runs the handler (a signed request claims it together with its
nonce, `bot.wechat.replay`, in one script); the key then holds the rendered reply, so a
retry gets the same answer. A retry that arrives while the first attempt runs polls the key until its own
deadline. When the first attempt's deadline passes, the key says "late": the reply will go out as a
customer-service message, and any retry answers empty so the follower never gets it twice. Both transitions
out of "pending" are compare-and-set, and the attempt that claimed the key makes exactly one of them: the
event loop decides whether the answer was in time, so a reply finishing exactly at the deadline is delivered one
way only.

Every command goes through the loop's self-pipelining connection (`bot.process.redis_pipe`): the claim costs the loop a
few microseconds and no thread a blocking round trip, and the reply is stored without waiting (the command is on
the wire before the answer is, so a retry finds it, or finds "pending" and waits for it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from bot.process import metrics
from bot.process.redis_pipe import RedisPipe, Reply
from bot.wechat.replay import Nonce, Replayed
from store.core.keys import Keys

log = logging.getLogger("wxshop.dedup")

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

# Remember the request's nonce with its body digest, then claim the message. A nonce seen with another body is
# forged ('F'); seen with the same body it is a retry, answered from the message's key, or refused once that key
# has expired ('X'). Neither marker is a first byte the message key ever holds.
_CLAIM_SIGNED = """
local seen = redis.call('GET', KEYS[1])
if seen then
  if seen ~= ARGV[1] then return 'F' end
  return redis.call('GET', KEYS[2]) or 'X'
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if redis.call('SET', KEYS[2], 'P', 'NX', 'EX', ARGV[3]) then return false end
return redis.call('GET', KEYS[2])
"""
_FORGED = b"F"
_FORGOTTEN = b"X"


@dataclass(frozen=True)
class Seen:
    """What an attempt found: still running, answered (with its reply XML), or gone late."""

    state: bytes
    xml: str = ""


class ReplyCache:
    def __init__(self, pipe: RedisPipe, prefix: str, pending_ttl_s: int = 60, done_ttl_s: int = 120) -> None:
        self.pipe = pipe
        self.keys = Keys(prefix)
        self.pending_ttl_s = pending_ttl_s
        self.done_ttl_s = done_ttl_s

    def _key(self, message_key: str) -> str:
        return self.keys.dedup(message_key)

    async def claim(self, message_key: str, nonce: Nonce | None = None) -> Seen | None:
        """Claim the message for this attempt (None), or return what an earlier attempt left. With the request's
        `nonce`, in the same round trip: raise `Replayed` when the nonce came before with another body, or with
        this body but so long ago that the reply is forgotten."""
        key = self._key(message_key)
        if nonce is not None:
            found = await self.pipe.call_script(
                _CLAIM_SIGNED, [nonce.key, key], [nonce.digest, nonce.ttl_s, self.pending_ttl_s]
            )
            if found == _FORGED:
                raise Replayed("nonce reused with another body")
            if found == _FORGOTTEN:
                raise Replayed("nonce reused after its reply expired")
            return None if found is None else _decode(found)
        if await self.pipe.call("SET", key, PENDING, "NX", "EX", self.pending_ttl_s) is not None:
            return None
        value = await self.pipe.call("GET", key)
        return _decode(value) if value is not None else Seen(PENDING)

    def answered(self, message_key: str, xml: str) -> None:
        """Store the reply unless the message went late, without waiting; a failure is logged and counted.
        Raises `redis.ConnectionError` at once when there is no connection to send it on."""
        self.pipe.send_script(_SETTLE, [self._key(message_key)], [DONE + xml.encode(), self.done_ttl_s], _check_stored)

    async def gone_late(self, message_key: str) -> Seen | None:
        """Mark the message late; if a reply is stored already, return it instead (None when marked late)."""
        found = await self.pipe.call_script(_SETTLE, [self._key(message_key)], [LATE, self.done_ttl_s])
        return None if found in (PENDING, None) else _decode(found)

    async def wait(self, message_key: str, deadline: float) -> Seen:
        """Poll until the first attempt answers or goes late, or until `deadline` (monotonic)."""
        key = self._key(message_key)
        while (left := deadline - time.monotonic()) > 0:
            try:
                value = await asyncio.wait_for(self.pipe.call("GET", key), left)
            except TimeoutError:
                break
            if value is None:
                return Seen(LATE)  # expired or lost: the first attempt owns delivery
            seen = _decode(value)
            if seen.state != PENDING:
                return seen
            await asyncio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
        return Seen(PENDING)


def _check_stored(reply: Reply) -> None:
    if isinstance(reply, Exception):
        metrics.ERRORS.labels("dedup", type(reply).__name__).inc()
        log.warning("reply not stored for retries", extra={"error": str(reply)})


def _decode(value: bytes) -> Seen:
    if value.startswith(DONE):
        return Seen(DONE, value[1:].decode())
    return Seen(value[:1])
