"""Customer-service windows from the event loop (`store.outbox.windows` has the rules and the scripts), on the loop's
pipelined Redis connection: one instance per process (`Resources.windows`), used by the inbound gateway (the
window a message opens, the messages a late reply or a follow-up takes) and by pay notify (the window a payment
opens). Commands on one connection run in the order they were issued, so a reply's take always lands after the
record of the message it answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import redis

from bot.process import metrics
from bot.process.redis_pipe import RedisPipe, Reply
from store.outbox.windows import (
    RECORD_SCRIPT,
    RESERVE_SCRIPT,
    SPEND_SCRIPT,
    InteractionKind,
    WindowQuotas,
    WindowVerdict,
    record_call,
    reserve_call,
    spend_call,
    verdicts_of,
)

log = logging.getLogger("wxshop.windows")


class LoopWindows:
    def __init__(self, pipe: RedisPipe, key: Callable[..., str], quotas: WindowQuotas) -> None:
        self.pipe = pipe
        self.key = key
        self.quotas = quotas

    async def load_scripts(self) -> None:
        """Have Redis know the scripts `record` runs without waiting, before the first message: otherwise the first
        recording after a start answers NOSCRIPT and is sent again a round trip later, after the reply."""
        try:
            await self.pipe.call("SCRIPT", "LOAD", RECORD_SCRIPT)
        except redis.RedisError as exc:  # Redis away at start-up: the first recording falls back to EVAL
            _check_recorded(exc)

    def record(self, openid: str, kind: InteractionKind, now: datetime) -> None:
        """Note an interaction without waiting (the inbound hot path); a failure is logged and counted: it costs
        only this window (the outbox sends template messages instead)."""
        keys, args = record_call(self.key, openid, kind, now)
        try:
            self.pipe.send_script(RECORD_SCRIPT, keys, args, _check_recorded)
        except redis.RedisError as exc:
            _check_recorded(exc)

    async def record_now(self, openid: str, kind: InteractionKind, now: datetime) -> None:
        """Note an interaction and wait until Redis has it (a payment, before the notices it causes are
        written). Raises `redis.RedisError`."""
        keys, args = record_call(self.key, openid, kind, now)
        await self.pipe.call_script(RECORD_SCRIPT, keys, args)

    async def take(self, openid: str, count: int, now: datetime) -> list[WindowVerdict]:
        """Take `count` messages for sends to `openid`, atomically: one verdict each, the granted ones first.
        Raises `redis.RedisError`."""
        if count <= 0:
            return []
        keys, args = reserve_call(self.key, [openid] * count, now, self.quotas)
        return verdicts_of(await self.pipe.call_script(RESERVE_SCRIPT, keys, args))

    async def spend(self, openid: str) -> None:
        """WeChat refused a send (45015/45047): no more until the follower's next interaction."""
        keys, args = spend_call(self.key, openid)
        await self.pipe.call_script(SPEND_SCRIPT, keys, args)


def _check_recorded(reply: Reply) -> None:
    if isinstance(reply, Exception):
        metrics.ERRORS.labels("cs_window", type(reply).__name__).inc()
        log.warning("customer-service window not recorded", extra={"error": str(reply)})
