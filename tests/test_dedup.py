"""The dedup key's life: claimed, then either answered (a retry gets the reply) or marked late (a retry gets
nothing), never both; the stored answer survives Redis losing its scripts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import redis

from bot.process.redis_pipe import RedisPipe
from bot.wechat.dedup import DONE, LATE, PENDING, Claim, ReplyCache, Seen
from tests.redis_support import RedisProcess


@pytest.fixture
async def replies(redis_base_url: str, redis_prefix: str) -> AsyncIterator[ReplyCache]:
    pipe = RedisPipe(redis_base_url)
    cache = ReplyCache(pipe, redis_prefix)
    await cache.load_scripts()
    yield cache
    await pipe.aclose()


async def claimed(replies: ReplyCache, message_key: str) -> Claim:
    claim = await replies.claim(message_key)
    assert isinstance(claim, Claim)
    return claim


async def test_answered_then_retried(replies: ReplyCache) -> None:
    claim = await claimed(replies, "m:o:1")
    assert await replies.claim("m:o:1") == Seen(PENDING)
    replies.answered(claim, "<xml>回复</xml>")
    assert await replies.claim("m:o:1") == Seen(DONE, "<xml>回复</xml>")
    assert await replies.gone_late(claim) == Seen(DONE, "<xml>回复</xml>"), "stored first: late marking loses"


async def test_late_then_retried_and_a_late_answer_is_not_stored(replies: ReplyCache) -> None:
    claim = await claimed(replies, "m:o:2")
    assert await replies.gone_late(claim) is None
    replies.answered(claim, "<xml>迟到</xml>")
    assert await replies.claim("m:o:2") == Seen(LATE)


async def test_a_waiting_retry_sees_the_answer_or_its_own_deadline(replies: ReplyCache) -> None:
    claim = await claimed(replies, "m:o:3")
    assert await replies.wait("m:o:3", time.monotonic()) == Seen(PENDING), "deadline already passed"
    replies.answered(claim, "<xml>好</xml>")
    assert await replies.wait("m:o:3", time.monotonic() + 5) == Seen(DONE, "<xml>好</xml>")
    assert await replies.wait("m:o:never-claimed", time.monotonic() + 5) is None, "no claim: take it over"


async def test_answers_are_stored_after_redis_lost_its_scripts(own_redis: RedisProcess) -> None:
    pipe = RedisPipe(own_redis.url)
    replies = ReplyCache(pipe, "t:")
    try:
        claim = await claimed(replies, "m:o:4")
        await pipe.call("SCRIPT", "FLUSH")
        replies.answered(claim, "<xml>一</xml>")  # EVALSHA finds no script: sent again as EVAL
        assert await replies.claim("m:o:4") == Seen(DONE, "<xml>一</xml>")
        claim = await claimed(replies, "m:o:5")
        await pipe.call("SCRIPT", "FLUSH")
        assert await replies.gone_late(claim) is None
        assert await replies.claim("m:o:5") == Seen(LATE)
    finally:
        await pipe.aclose()


async def test_a_claim_without_redis_raises_at_once(own_redis: RedisProcess) -> None:
    pipe = RedisPipe(own_redis.url)
    replies = ReplyCache(pipe, "t:")
    own_redis.stop()
    try:
        with pytest.raises(redis.ConnectionError):
            await replies.claim("m:o:6")
        with pytest.raises(redis.ConnectionError):
            replies.answered(Claim("t:dedup:m:o:6", b"Pmine", None), "<xml/>")
    finally:
        await pipe.aclose()


async def test_a_claim_is_a_lease_its_process_renews_and_a_dead_one_lets_lapse(
    redis_base_url: str, redis_prefix: str
) -> None:
    """Renewed while handled, so a slow handler keeps its message; not renewed, it is free again: a process
    killed mid-message holds nobody's retry for longer than the lease."""
    pipe = RedisPipe(redis_base_url)
    live = ReplyCache(pipe, redis_prefix, lease_ms=300, renew_s=0.05)
    await live.load_scripts()
    try:
        claim = await claimed(live, "m:o:7")
        deadline = time.monotonic() + 1.0
        assert await live.wait("m:o:7", deadline) == Seen(PENDING), "renewed past its 300 ms lease until the deadline"
        live.release(claim)  # as a dead process would: no more renewals
        assert await live.wait("m:o:7", time.monotonic() + 5) is None, "lapsed: a retry may take it over"
        taker = await claimed(live, "m:o:7")
        assert await live.gone_late(claim) == Seen(PENDING), "the old attempt finds it taken and leaves it"
        live.answered(taker, "<xml>接手</xml>")
        assert await live.claim("m:o:7") == Seen(DONE, "<xml>接手</xml>")
    finally:
        await pipe.aclose()
