"""Exactly-once handling of WeChat's retries, across processes, through one Redis key per message.

The first attempt claims the key (SET NX) and runs the handler (a signed request claims it together with its
nonce, `bot.wechat.replay`, in one script); the key then holds the rendered reply, so a
retry gets the same answer. A retry that arrives while the first attempt runs polls the key until its own
deadline. When the first attempt's deadline passes, the key says "late": the reply will go out as a
customer-service message, and any retry answers empty so the follower never gets it twice. Both transitions
out of "pending" are compare-and-set on the claiming attempt's own value, and that attempt makes exactly one of
them: the event loop decides whether the answer was in time, so a reply finishing exactly at the deadline is
delivered one way only.

A claim is a lease (`LEASE_MS`), renewed every `RENEW_S` by the loop of the process handling the message. A
process killed mid-message stops renewing, so its claim is gone long before WeChat's next try (about 5 s
later), and that try, whichever process it reaches, handles the message: a retry waiting on the claim takes it
over as soon as it lapses. What the dead attempt did before it died must then be found, not done again (the
checkout's order number is drawn before the buyer confirms, `dialogs.flows.checkout`). The nonce memory tells
the two absences apart: a settled message marks its nonce, so a byte-identical retry finding neither reply nor
claim is handled only when the claim lapsed unsettled; once the reply is forgotten (120 s) it is refused.

Every command goes through the loop's self-pipelining connection (`bot.process.redis_pipe`): the claim costs the loop a
few microseconds and no thread a blocking round trip, and the reply is stored without waiting (the command is on
the wire before the answer is, so a retry finds it, or finds "pending" and waits for it).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from dataclasses import dataclass, field

import redis

from bot.process import metrics
from bot.process.redis_pipe import RedisPipe, Reply
from bot.wechat.replay import Nonce, Replayed
from store.core.keys import Keys

log = logging.getLogger("wxshop.dedup")

PENDING = b"P"  # followed by the claiming attempt's own token
LATE = b"L"
DONE = b"D"
POLL_S = 0.01
LEASE_MS = 2000  # a dead process's claim is gone this long after its last renewal, well before WeChat's next try
RENEW_S = 0.5  # how often a live process renews the claims it is handling
SETTLED = b"S"  # prefixed to a nonce's body digest once its message was answered or went late

# Claim the message: a lease of ARGV[2] ms holding the attempt's value ARGV[1]; else return what is there.
_CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1]) or 'V'
"""

# Remember the request's nonce with its body digest, then claim the message. A nonce seen with another body is
# forged ('F'); seen with the same body it is a retry, answered from the message's key; with no key left, it is
# claimed again when its message never settled (the claim lapsed with its process) and refused once settled and
# forgotten ('X'). None of the markers is a first byte the message key ever holds.
_CLAIM_SIGNED = """
local seen = redis.call('GET', KEYS[1])
if seen then
  if seen ~= ARGV[1] and seen ~= 'S' .. ARGV[1] then return 'F' end
  local current = redis.call('GET', KEYS[2])
  if current then return current end
  if seen ~= ARGV[1] then return 'X' end
else
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[4]) then return false end
return redis.call('GET', KEYS[2]) or 'V'
"""
_FORGED = b"F"
_FORGOTTEN = b"X"
_VANISHED = b"V"  # the key lapsed between the two commands of a claim: claim again

# Move this attempt's claim (ARGV[3]) to the new value, or take an empty key; mark the nonce (KEYS[2], holding
# ARGV[4]) settled. Return 'P' when done, else the value another attempt left (a loser learns what it stored).
_SETTLE = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[3] then return current end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if KEYS[2] and redis.call('GET', KEYS[2]) == ARGV[4] then
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then redis.call('SET', KEYS[2], 'S' .. ARGV[4], 'PX', ttl) end
end
return 'P'
"""

# Extend this attempt's lease; 0 when the claim is no longer its own.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

_TOKENS = itertools.count()
_PROCESS = os.urandom(4).hex()


@dataclass(frozen=True)
class Seen:
    """What an attempt found: still running, answered (with its reply XML), or gone late."""

    state: bytes
    xml: str = ""


@dataclass(eq=False)
class Claim:
    """This attempt's lease on a message, renewed on the loop until `settle` or `release`."""

    key: str
    value: bytes
    nonce: Nonce | None
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class ReplyCache:
    def __init__(
        self, pipe: RedisPipe, prefix: str, lease_ms: int = LEASE_MS, done_ttl_s: int = 120, renew_s: float = RENEW_S
    ) -> None:
        self.pipe = pipe
        self.keys = Keys(prefix)
        self.lease_ms = lease_ms
        self.done_ttl_s = done_ttl_s
        self.renew_s = renew_s

    def _key(self, message_key: str) -> str:
        return self.keys.dedup(message_key)

    async def load_scripts(self) -> None:
        """Have Redis know the scripts sent without waiting (settling, renewing) before the first message: else
        the first after a start answers NOSCRIPT and is sent again a round trip later, behind later commands."""
        try:
            for script in (_SETTLE, _RENEW):
                await self.pipe.call("SCRIPT", "LOAD", script)
        except redis.RedisError as exc:  # Redis away at start-up: the first ones fall back to EVAL
            _check_stored(exc)

    async def claim(self, message_key: str, nonce: Nonce | None = None) -> Claim | Seen:
        """Claim the message for this attempt (a `Claim`, renewed until settled), or return what an earlier
        attempt left. With the request's `nonce`, in the same round trip: raise `Replayed` when the nonce came
        before with another body, or with this body but so long ago that the reply is forgotten."""
        key = self._key(message_key)
        value = PENDING + f"{_PROCESS}:{next(_TOKENS)}".encode()
        while True:
            if nonce is not None:
                found = await self.pipe.call_script(
                    _CLAIM_SIGNED, [nonce.key, key], [nonce.digest, nonce.ttl_s, value, self.lease_ms]
                )
                if found == _FORGED:
                    raise Replayed("nonce reused with another body")
                if found == _FORGOTTEN:
                    raise Replayed("nonce reused after its reply expired")
            else:
                found = await self.pipe.call_script(_CLAIM, [key], [value, self.lease_ms])
            if found != _VANISHED:
                break
        if found is not None:
            return _decode(found)
        claim = Claim(key, value, nonce)
        self._renew_later(claim)
        return claim

    def _renew_later(self, claim: Claim) -> None:
        claim.timer = asyncio.get_running_loop().call_later(self.renew_s, self._renew, claim)

    def _renew(self, claim: Claim) -> None:
        if claim.timer is None:
            return
        try:
            self.pipe.send_script(_RENEW, [claim.key], [claim.value, self.lease_ms], _check_renewed)
        except redis.RedisError as exc:  # no connection now: the next renewal may find one
            _check_renewed(exc)
        self._renew_later(claim)

    def answered(self, claim: Claim, xml: str) -> None:
        """Store the reply unless the message went late, without waiting; a failure is logged and counted.
        Raises `redis.ConnectionError` at once when there is no connection to send it on."""
        claim.stop()
        self.pipe.send_script(_SETTLE, *self._settle_args(claim, DONE + xml.encode()), _check_stored)

    async def gone_late(self, claim: Claim) -> Seen | None:
        """Mark the message late (None), or return what another attempt stored: its reply, or its own claim
        or late mark (then that attempt, not this one, answers the follower)."""
        claim.stop()
        found = await self.pipe.call_script(_SETTLE, *self._settle_args(claim, LATE))
        return None if found == PENDING else _decode(found)

    def release(self, claim: Claim) -> None:
        """Stop renewing without settling (the handler failed): the claim lapses and a retry handles it."""
        claim.stop()

    def _settle_args(self, claim: Claim, value: bytes) -> tuple[list[str], list[object]]:
        if claim.nonce is None:
            return [claim.key], [value, self.done_ttl_s, claim.value, b""]
        return [claim.key, claim.nonce.key], [value, self.done_ttl_s, claim.value, claim.nonce.digest]

    async def wait(self, message_key: str, deadline: float) -> Seen | None:
        """Poll until the first attempt answers or goes late (its `Seen`), its claim lapses (None: the attempt's
        process died, so this one may take the message over), or until `deadline` (monotonic; Seen(PENDING))."""
        key = self._key(message_key)
        while (left := deadline - time.monotonic()) > 0:
            try:
                value = await asyncio.wait_for(self.pipe.call("GET", key), left)
            except TimeoutError:
                break
            if value is None:
                return None
            seen = _decode(value)
            if seen.state != PENDING:
                return seen
            await asyncio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
        return Seen(PENDING)


def _check_stored(reply: Reply) -> None:
    if isinstance(reply, Exception):
        metrics.ERRORS.labels("dedup", type(reply).__name__).inc()
        log.warning("reply not stored for retries", extra={"error": str(reply)})


def _check_renewed(reply: Reply) -> None:
    if isinstance(reply, Exception):
        metrics.ERRORS.labels("dedup", type(reply).__name__).inc()
        log.warning("claim not renewed", extra={"error": str(reply)})


def _decode(value: bytes) -> Seen:
    if value.startswith(DONE):
        return Seen(DONE, value[1:].decode())
    return Seen(value[:1])
