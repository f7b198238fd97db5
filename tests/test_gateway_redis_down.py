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
