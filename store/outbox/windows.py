"""Customer-service windows per follower (WECHAT.md §2.2), kept in Redis on the business clock.

What the follower did opens a window: a message → `cs_quota_after_message` (default 5) messages for 48 h; a menu
click, follow or QR scan → `cs_quota_after_click` (default 3) for 1 minute (one shared bucket); a payment →
unlimited for 48 h. A newer interaction of a bucket opens a fresh window there (the count resets); a late report
of an older one changes nothing. A send takes one message from the open window that grants it, preferring
payment, then message, then click (the order that wastes the fewest scarce messages).

Every customer-service send takes its message here first, atomically: the outbox dispatcher's (a batch in one
script call) and those made outside it, late replies and follow-ups (the same script, on the serving process's
pipelined connection). Passive replies (the XML answer to WeChat's POST) take nothing: WeChat does not count
them. Recording is one Redis script call (on the inbound hot path); windows may expire or be lost with Redis —
then the outbox falls back to template messages and other sends are dropped, never sent for WeChat to refuse.
A payment's window is also kept in the database (store.outbox.payment_windows), written with the payment: the
dispatcher puts it back here when Redis lost it or was away when the payment came.
Keys expire 48 h after the last interaction (wall time; the verdicts themselves use the business timestamps
stored in them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import redis
import redis.asyncio as aioredis

from store.core.keys import CS_WINDOW

InteractionKind = Literal["message", "click", "subscribe", "scan", "payment"]
WindowVerdict = Literal["payment", "message", "click", "used_up", "closed"]
GRANTED: frozenset[str] = frozenset({"payment", "message", "click"})

_BUCKET: dict[str, str] = {"message": "m", "click": "c", "subscribe": "c", "scan": "c", "payment": "p"}
WINDOW_LONG = timedelta(hours=48)
WINDOW_SHORT = timedelta(minutes=1)
# A window recorded a moment after the reader took its `now` is open already: another process handled the
# interaction in between (a pay notice WeChat sent again, recorded with the retry's later time, while the
# dispatcher's batch holds the first one's notice). Without this the notice found "used up" and was dropped.
OPENED_AHEAD = timedelta(seconds=60)
KEY_TTL_MS = int((WINDOW_LONG + timedelta(hours=1)).total_seconds() * 1000)

# A bucket's `<b>s` field holds the time of a window WeChat refused (`SPEND_SCRIPT`): recording it again, as
# the dispatcher does when it puts a payment's window back from the database, changes nothing.
RECORD_SCRIPT = """
local b = ARGV[1]
local current = tonumber(redis.call('HGET', KEYS[1], b))
if current and current > tonumber(ARGV[2]) then return 0 end
local spent = tonumber(redis.call('HGET', KEYS[1], b .. 's'))
if spent and spent >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], b, ARGV[2], b .. 'u', 0)
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
"""

# ARGV: now_ms, long_ms, short_ms, quota_after_message, quota_after_click, take (1 = consume one message),
# ahead_ms (see OPENED_AHEAD)
_RESERVE = """
local now, long, short = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local take = ARGV[6] == '1'
local soon = now + tonumber(ARGV[7])
local h = redis.call('HMGET', KEYS[1], 'p', 'm', 'mu', 'c', 'cu')
local p, m, mu, c, cu = tonumber(h[1]), tonumber(h[2]), tonumber(h[3]) or 0, tonumber(h[4]), tonumber(h[5]) or 0
if p and p <= soon and now < p + long then return 'payment' end
local open = false
if m and m <= soon and now < m + long then
  open = true
  if mu < tonumber(ARGV[4]) then
    if take then redis.call('HINCRBY', KEYS[1], 'mu', 1) end
    return 'message'
  end
end
if c and c <= soon and now < c + short then
  open = true
  if cu < tonumber(ARGV[5]) then
    if take then redis.call('HINCRBY', KEYS[1], 'cu', 1) end
    return 'click'
  end
end
if open then return 'used_up' end
return 'closed'
"""

# The same for several sends in one call (KEYS = their window keys, a key once per message): the dispatcher's
# batch, or a late reply and its follow-ups. Granted verdicts come first for a repeated key: nothing in the
# script opens a window, so once one send is refused the following ones are too.
RESERVE_SCRIPT = (
    "local verdicts = {}\nfor i = 1, #KEYS do\nverdicts[i] = (function(KEYS)\n"
    + _RESERVE
    + "\nend)({KEYS[i]})\nend\nreturn verdicts\n"
)

# The follower's windows are used up (45047) or gone (45015): remember it until a new interaction.
SPEND_SCRIPT = """
local p = redis.call('HGET', KEYS[1], 'p')
if p then redis.call('HSET', KEYS[1], 'ps', p) end
redis.call('HSET', KEYS[1], 'mu', 1000000, 'cu', 1000000)
redis.call('HDEL', KEYS[1], 'p')
return 1
"""


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@dataclass(frozen=True)
class WindowQuotas:
    after_message: int = 5
    after_click: int = 3


def window_key(key: Callable[..., str], openid: str) -> str:
    """`key` is the deployment's `Keys` (store.core.keys names the kind, so unsubscribe finds it)."""
    return key(CS_WINDOW, openid)


def record_call(
    key: Callable[..., str], openid: str, kind: InteractionKind, now: datetime
) -> tuple[list[str], list[str | int]]:
    """The keys and arguments of `RECORD_SCRIPT` for one interaction: the inbound gateway sends it on its own
    pipelined connection, in the round trip it makes anyway."""
    bucket = _BUCKET.get(kind)
    if bucket is None:
        raise ValueError(f"unknown interaction kind {kind!r} (known: {', '.join(_BUCKET)})")
    return [window_key(key, openid)], [bucket, _ms(now), KEY_TTL_MS]


def reserve_call(
    key: Callable[..., str], openids: Sequence[str], now: datetime, quotas: WindowQuotas
) -> tuple[list[str], list[str | int]]:
    """The keys and arguments of `RESERVE_SCRIPT` taking one message for each entry of `openids` (an openid
    repeated takes several)."""
    return [window_key(key, openid) for openid in openids], _reserve_args(now, quotas, take=True)


def spend_call(key: Callable[..., str], openid: str) -> tuple[list[str], list[str | int]]:
    """The keys and arguments of `SPEND_SCRIPT`: WeChat refused a send (45015/45047), take no more until the
    follower's next interaction."""
    return [window_key(key, openid)], []


class CsWindows:
    """Windows through a synchronous client: inspection, and recording and taking for synchronous callers (tests,
    benchmarks). The serving process runs the same scripts on its event loop's pipelined connection."""

    def __init__(self, client: redis.Redis, key: Callable[..., str], quotas: WindowQuotas | None = None) -> None:
        self.client = client
        self.key = key
        self.quotas = quotas or WindowQuotas()
        self._record = client.register_script(RECORD_SCRIPT)
        self._reserve = client.register_script(_RESERVE)
        self._spend = client.register_script(SPEND_SCRIPT)

    def record_interaction(self, openid: str, kind: InteractionKind, now: datetime) -> None:
        keys, args = record_call(self.key, openid, kind, now)
        self._record(keys=keys, args=args)

    def verdict(self, openid: str, now: datetime) -> WindowVerdict:
        """Whether a customer-service message could go now, without taking one."""
        return self._call(openid, now, take=False)

    def consume(self, openid: str, now: datetime) -> WindowVerdict:
        """Take one message for a customer-service send."""
        return self._call(openid, now, take=True)

    def spend(self, openid: str) -> None:
        """WeChat refused a customer-service send (45015/45047): no more until the follower's next interaction."""
        self._spend(keys=[window_key(self.key, openid)])

    def _call(self, openid: str, now: datetime, take: bool) -> WindowVerdict:
        result = self._reserve(keys=[window_key(self.key, openid)], args=_reserve_args(now, self.quotas, take))
        return result.decode() if isinstance(result, bytes) else result  # type: ignore[return-value]


class AsyncCsWindows:
    """Windows through an asyncio client: the dispatcher reserves a batch in one round trip."""

    def __init__(self, client: aioredis.Redis, key: Callable[..., str], quotas: WindowQuotas) -> None:
        self.client = client
        self.key = key
        self.quotas = quotas
        self._reserve_many = client.register_script(RESERVE_SCRIPT)
        self._record = client.register_script(RECORD_SCRIPT)
        self._spend = client.register_script(SPEND_SCRIPT)

    async def reserve_many(self, openids: Sequence[str], now: datetime) -> list[WindowVerdict]:
        """Take one message for each openid where a window allows it, in one script call per batch (on Redis
        Cluster its keys must share a slot: give `[redis] prefix` a hash tag)."""
        if not openids:
            return []
        keys, args = reserve_call(self.key, openids, now, self.quotas)
        return verdicts_of(await self._reserve_many(keys=keys, args=args))

    async def restore_payments(self, opened: Mapping[str, datetime]) -> None:
        """Put payment windows known from the database back into Redis (a window WeChat refused stays shut)."""
        async with self.client.pipeline(transaction=False) as pipe:
            for openid, at in opened.items():
                keys, args = record_call(self.key, openid, "payment", at)
                await self._record(keys=keys, args=args, client=pipe)
            await pipe.execute()

    async def spend(self, openids: Sequence[str]) -> None:
        if not openids:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for openid in openids:
                await self._spend(keys=[window_key(self.key, openid)], client=pipe)
            await pipe.execute()


def verdicts_of(reply: Sequence[bytes | str]) -> list[WindowVerdict]:
    """`RESERVE_SCRIPT`'s reply as verdicts."""
    return [r.decode() if isinstance(r, bytes) else r for r in reply]  # type: ignore[misc]


def _reserve_args(now: datetime, quotas: WindowQuotas, take: bool) -> list[int | str]:
    return [
        _ms(now),
        int(WINDOW_LONG.total_seconds() * 1000),
        int(WINDOW_SHORT.total_seconds() * 1000),
        quotas.after_message,
        quotas.after_click,
        "1" if take else "0",
        int(OPENED_AHEAD.total_seconds() * 1000),
    ]
