"""Limits shared by every dispatcher on every host, kept in Redis and changed only by atomic scripts:

* the daily template quota (Asia/Shanghai day of the business clock), reserved per batch with a ceiling per
  priority so member care never eats the share kept for order notices; after 45009 the day is closed;
* the send rate: one token bucket (Redis server time, so hosts need no synchronised clocks);
* liveness: each dispatcher refreshes a short-lived key, so a killed worker's claimed notices are taken over in
  seconds instead of waiting out their lease.

When Redis forgets the day's count (restart, failover) the dispatcher seeds it from the database before going on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis

from store.core.clock import SHANGHAI
from store.outbox.kinds import Priority

DAY_TTL_S = 3 * 86400
UNKNOWN = -1
CLOSED = -2

# KEYS[1] the day's hash {used, closed}; ARGV: then (want, ceiling) per priority, highest priority first.
_RESERVE = """
if redis.call('HGET', KEYS[1], 'closed') then return {-2} end
local used = redis.call('HGET', KEYS[1], 'used')
if not used then return {-1} end
used = tonumber(used)
local out = {}
for i = 1, #ARGV, 2 do
  local want, ceiling = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local granted = math.max(0, math.min(want, ceiling - used))
  used = used + granted
  out[#out + 1] = granted
end
redis.call('HSET', KEYS[1], 'used', used)
return out
"""

# Token bucket. ARGV: rate per second, burst, wanted. Returns {granted, wait_ms for the rest}.
_TAKE = """
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000000)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], 60000)
local wait = 0
if granted < want then wait = math.ceil((want - granted - tokens) * 1000 / rate) end
return {granted, wait}
"""


def shanghai_day(now: datetime) -> str:
    return now.astimezone(SHANGHAI).strftime("%Y%m%d")


@dataclass(frozen=True)
class QuotaShares:
    """The share of the daily quota each priority may use (transactional always the whole of it)."""

    service: float = 0.95
    member_care: float = 0.90

    def ceiling(self, priority: int, quota: int) -> int:
        if priority <= Priority.TRANSACTIONAL:
            return quota
        return int(quota * (self.service if priority == Priority.SERVICE else self.member_care))


class TemplateQuota:
    def __init__(self, client: aioredis.Redis, key: Callable[..., str], daily: int, shares: QuotaShares) -> None:
        self.client = client
        self.key = key
        self.daily = daily
        self.shares = shares
        self._reserve = client.register_script(_RESERVE)

    def day_key(self, now: datetime) -> str:
        return self.key("outbox", "tpl", shanghai_day(now))

    async def reserve(self, wants: Mapping[int, int], now: datetime, seed: Callable[[], int]) -> dict[int, int] | None:
        """Grant template sends per priority ({priority: count}), or None when the day is closed (45009).
        `seed()` counts today's template sends in the database, for when Redis has no count."""
        order = sorted(p for p, n in wants.items() if n > 0)
        if not order:
            return {}
        args: list[int] = []
        for priority in order:
            args += [wants[priority], self.shares.ceiling(priority, self.daily)]
        key = self.day_key(now)
        result = await self._reserve(keys=[key], args=args)
        if result and int(result[0]) == UNKNOWN:
            used = await asyncio.to_thread(seed)
            if await self.client.hsetnx(key, "used", used):
                await self.client.expire(key, DAY_TTL_S)
            result = await self._reserve(keys=[key], args=args)
        if result and int(result[0]) == CLOSED:
            return None
        return {p: int(g) for p, g in zip(order, result, strict=True)}

    async def close_day(self, now: datetime) -> None:
        """WeChat said 45009: no more template sends until the next Asia/Shanghai day."""
        key = self.day_key(now)
        await self.client.hset(key, "closed", "1")
        await self.client.expire(key, DAY_TTL_S)

    async def used(self, now: datetime) -> int:
        value = await self.client.hget(self.day_key(now), "used")
        return int(value) if value else 0


class RateLimiter:
    """At most `rate` sends per second across all dispatchers, in bursts of at most one second's worth."""

    def __init__(self, client: aioredis.Redis, key: Callable[..., str], rate: int) -> None:
        self.key = key("outbox", "rate")
        self.rate = rate
        self._take = client.register_script(_TAKE)

    async def acquire(self, count: int) -> None:
        """Wait (wall time: this paces real requests) until `count` sends may start."""
        while count > 0:
            want = min(count, self.rate)
            granted, wait_ms = (int(v) for v in await self._take(keys=[self.key], args=[self.rate, self.rate, want]))
            count -= granted
            if count > 0:
                await asyncio.sleep(max(wait_ms, 1) / 1000)


class SendLog:
    """Where each customer-service send of a batch got to — started, or accepted by WeChat — noted as it happens
    and kept a day. WeChat has no idempotency key for these sends: if the batch's worker dies before recording
    them, the dispatcher taking over sends again only what never started, marks what went as sent, and leaves the
    rest in doubt. A lost log (Redis restarted) puts the whole batch in doubt: never a repeat."""

    BEGUN = "_"

    def __init__(self, client: aioredis.Redis, key: Callable[..., str], ttl_s: int = 86400) -> None:
        self.client = client
        self.key = key
        self.ttl_s = ttl_s

    async def begin(self, owner: str) -> None:
        key = self.key("outbox", "cs", owner)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(key, self.BEGUN, "1")
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

    async def started(self, owner: str, notice_ids: Sequence[int]) -> None:
        await self._mark(owner, notice_ids, "started")

    async def sent(self, owner: str, notice_ids: Sequence[int], refused: Sequence[int] = ()) -> None:
        """A chunk came back: `notice_ids` were accepted; `refused` got WeChat's answer that nothing went (an
        errcode), so they are not in doubt — what timed out or lost its connection stays "started"."""
        mapping = dict.fromkeys(map(str, notice_ids), "sent") | dict.fromkeys(map(str, refused), "refused")
        if mapping:
            await self.client.hset(self.key("outbox", "cs", owner), mapping=mapping)

    async def _mark(self, owner: str, notice_ids: Sequence[int], state: str) -> None:
        if notice_ids:
            await self.client.hset(self.key("outbox", "cs", owner), mapping=dict.fromkeys(map(str, notice_ids), state))

    async def states(self, owner: str, notice_ids: Sequence[int]) -> dict[int, str]:
        """id → "sent", "refused" (WeChat said no: nothing went), "started" (in doubt) or "unsent"; every id
        "started" when the log is gone."""
        values = await self.client.hmget(self.key("outbox", "cs", owner), [self.BEGUN, *map(str, notice_ids)])
        if values[0] is None:
            return dict.fromkeys(notice_ids, "started")
        return {nid: v.decode() if v else "unsent" for nid, v in zip(notice_ids, values[1:], strict=True)}


class Liveness:
    """Dispatchers' heartbeats: a claimed batch whose owner stopped beating is reclaimable at once."""

    def __init__(self, client: aioredis.Redis, key: Callable[..., str], ttl_ms: int = 5000) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = ttl_ms

    async def beat(self, owner: str) -> None:
        await self.client.set(self.key("outbox", "alive", owner), "1", px=self.ttl_ms)

    async def stop(self, owner: str) -> None:
        await self.client.delete(self.key("outbox", "alive", owner))

    async def dead(self, owners: Sequence[str]) -> list[str]:
        """Of these dispatcher ids, the ones with no heartbeat."""
        if not owners:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for owner in owners:
                pipe.exists(self.key("outbox", "alive", owner))
            alive = await pipe.execute()
        return [owner for owner, up in zip(owners, alive, strict=True) if not up]
