"""The dedup key's life: claimed, then either answered (a retry gets the reply) or marked late (a retry gets
nothing), never both; the stored answer survives Redis losing its scripts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import redis

from bot.process.redis_pipe import RedisPipe
from bot.wechat.dedup import DONE, LATE, PENDING, ReplyCache, Seen
from tests.redis_support import RedisProcess


@pytest.fixture
async def replies(redis_base_url: str, redis_prefix: str) -> AsyncIterator[ReplyCache]:
    pipe = RedisPipe(redis_base_url)
    yield ReplyCache(pipe, redis_prefix)
    await pipe.aclose()


async def test_answered_then_retried(replies: ReplyCache) -> None:
    assert await replies.claim("m:o:1") is None
    assert await replies.claim("m:o:1") == Seen(PENDING)
    replies.answered("m:o:1", "<xml>回复</xml>")
    assert await replies.claim("m:o:1") == Seen(DONE, "<xml>回复</xml>")
    assert await replies.gone_late("m:o:1") == Seen(DONE, "<xml>回复</xml>"), "stored first: late marking loses"


async def test_late_then_retried_and_a_late_answer_is_not_stored(replies: ReplyCache) -> None:
    assert await replies.claim("m:o:2") is None
    assert await replies.gone_late("m:o:2") is None
    replies.answered("m:o:2", "<xml>迟到</xml>")
    assert await replies.claim("m:o:2") == Seen(LATE)


async def test_a_waiting_retry_sees_the_answer_or_its_own_deadline(replies: ReplyCache) -> None:
    assert await replies.claim("m:o:3") is None
    assert await replies.wait("m:o:3", time.monotonic()) == Seen(PENDING), "deadline already passed"
    replies.answered("m:o:3", "<xml>好</xml>")
    assert await replies.wait("m:o:3", time.monotonic() + 5) == Seen(DONE, "<xml>好</xml>")
    assert await replies.wait("m:o:never-claimed", time.monotonic() + 5) == Seen(LATE)


async def test_answers_are_stored_after_redis_lost_its_scripts(own_redis: RedisProcess) -> None:
    pipe = RedisPipe(own_redis.url)
    replies = ReplyCache(pipe, "t:")
    try:
        assert await replies.claim("m:o:4") is None
        await pipe.call("SCRIPT", "FLUSH")
        replies.answered("m:o:4", "<xml>一</xml>")  # EVALSHA finds no script: sent again as EVAL
        assert await replies.claim("m:o:4") == Seen(DONE, "<xml>一</xml>")
        assert await replies.claim("m:o:5") is None
        await pipe.call("SCRIPT", "FLUSH")
        assert await replies.gone_late("m:o:5") is None
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
            replies.answered("m:o:6", "<xml/>")
    finally:
        await pipe.aclose()
