"""Redis is where dedup lives, not what answering depends on: with Redis gone the callback still answers in time,
and once Redis is back retries are deduplicated again."""

from __future__ import annotations

import asyncio
import dataclasses

from bot.process.config import Config, RedisConfig
from bot.web.runtime import RESOURCES
from tests.gateway_support import count_texts, running
from tests.redis_support import RedisProcess


async def test_answers_without_redis_and_deduplicates_again_once_it_is_back(
    migrated: Config, own_redis: RedisProcess
) -> None:
    config = dataclasses.replace(migrated, redis=RedisConfig(url=own_redis.url, prefix=migrated.redis.prefix))
    async with running(config) as shop:
        counter = count_texts(shop, lambda _, content: f"收到：{content}", delay_s=0.2)  # retries arrive meanwhile
        follower = shop.follower()
        assert (await follower.send_text("o_down", "你好")).shown == "收到：你好"

        own_redis.stop()
        down = await follower.send_text("o_down", "还在吗")
        assert [a.status for a in down.attempts] == [200], "answered on the first attempt, well inside 5 s"
        assert down.shown == "收到：还在吗"

        own_redis.start()
        shop.app[RESOURCES].pipe._failed_until = 0.0  # skip the reconnect pause instead of sleeping through it
        before = counter.calls
        xml = follower.build_xml("o_down", {"MsgType": "text", "Content": "买"})
        deliveries = await asyncio.gather(*(follower.deliver(xml, "o_down") for _ in range(3)))
        assert counter.calls == before + 1, "one run for three concurrent attempts"
        assert {d.shown for d in deliveries} == {"收到：买"}


async def test_with_redis_away_a_signed_query_reused_with_another_body_is_still_refused(
    migrated: Config, own_redis: RedisProcess
) -> None:
    """The replay memory is in Redis; while it is away the process remembers what it saw, so a query string
    copied from a proxy log cannot carry another follower's message to it, and WeChat's retries still work."""
    config = dataclasses.replace(migrated, redis=RedisConfig(url=own_redis.url, prefix=migrated.redis.prefix))
    async with running(config) as shop:
        counter = count_texts(shop, lambda _, content: f"收到：{content}")
        follower = shop.follower()
        own_redis.stop()
        xml = follower.build_xml("o_owner", {"MsgType": "text", "Content": "订单详情 1"})
        query, body = follower.signed(xml, "o_owner")
        first = await follower.post(query, body)
        assert first.status == 200 and "收到：订单详情 1" in first.body
        retry = await follower.post(query, body)
        assert retry.status == 200, "a byte-identical try is WeChat's retry"
        forged = body.replace("o_owner", "o_victim")
        replayed = await follower.post(query, forged)
        assert replayed.status == 403, replayed.body
        assert counter.calls == 2, "the forged body was never handled"
