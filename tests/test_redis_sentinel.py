"""Redis behind Sentinel: every client of the shop (the loop's pipe, the threads' client, the async client, the job
queue) finds the master through the Sentinels, and after a failover finds the new one."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from arq.connections import create_pool

from bot.process.config import Config, RedisConfig, load
from bot.process.redis_urls import arq_settings
from bot.sandbox.redis_server import RedisServer, SentinelServer
from bot.web.runtime import RESOURCES
from tests.gateway_support import count_texts, running


@dataclasses.dataclass
class Cluster:
    master: RedisServer
    replica: RedisServer
    sentinel: SentinelServer


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    master = RedisServer(tmp_path)
    master.start()
    replica = RedisServer(tmp_path, replica_of=master.port)
    replica.start()
    _wait_for_replication(master.port)
    sentinel = SentinelServer(tmp_path, master.port)
    sentinel.start()
    yield Cluster(master, replica, sentinel)
    for server in (sentinel, replica, master):
        server.stop()


def _wait_for_replication(port: int) -> None:
    client = redis.Redis(port=port, decode_responses=True)
    try:
        deadline = time.monotonic() + 20
        while client.info("replication").get("connected_slaves", 0) < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not connect")
            time.sleep(0.05)
    finally:
        client.close()


async def test_the_shop_runs_on_the_sentinels_master_and_follows_a_failover(migrated: Config, cluster: Cluster) -> None:
    config = dataclasses.replace(migrated, redis=RedisConfig(url=cluster.sentinel.url, prefix=migrated.redis.prefix))
    async with running(config) as shop:
        resources = shop.app[RESOURCES]
        counter = count_texts(shop, lambda _, content: f"收到：{content}", delay_s=0.2)
        follower = shop.follower()
        xml = follower.build_xml("o_sentinel", {"MsgType": "text", "Content": "你好"})
        deliveries = await asyncio.gather(*(follower.deliver(xml, "o_sentinel") for _ in range(3)))
        assert {d.shown for d in deliveries} == {"收到：你好"}
        assert counter.calls == 1, "dedup lives on the master the Sentinel named"
        written = redis.Redis(port=cluster.master.port)
        assert any(k.startswith(config.redis.prefix.encode()) for k in written.scan_iter()), "the pipe wrote there"
        written.close()

        resources.redis.set("sentinel:sync", "1")
        await resources.aredis.set("sentinel:async", "1")
        queue = await create_pool(arq_settings(config.redis.url))
        await queue.enqueue_job("sentinel_probe", _job_id="probe-1")
        await queue.aclose()
        for asked in queue.connection_pool.sentinel_manager.sentinels:  # arq leaves the Sentinels' clients open
            await asked.aclose()
        on_master = redis.Redis(port=cluster.master.port)
        assert on_master.get("sentinel:sync") == b"1" and on_master.get("sentinel:async") == b"1"
        assert on_master.exists("arq:job:probe-1"), "the job queue found the master too"
        on_master.close()

        new_port = cluster.sentinel.failover()
        assert new_port == cluster.replica.port

        after = await follower.send_text("o_sentinel", "还在吗")
        assert after.shown == "收到：还在吗", "answered across the failover"
        resources.pipe._failed_until = 0.0  # skip the reconnect pause instead of sleeping through it
        before = counter.calls
        xml = follower.build_xml("o_sentinel", {"MsgType": "text", "Content": "买"})
        deliveries = await asyncio.gather(*(follower.deliver(xml, "o_sentinel") for _ in range(3)))
        assert {d.shown for d in deliveries} == {"收到：买"}
        assert counter.calls == before + 1, "dedup works again, on the new master"

        _write_after_failover(lambda: resources.redis.set("sentinel:sync", "2"))
        for attempt in range(3):  # the first command on a demoted master's connection is refused; the next reconnects
            try:
                await resources.aredis.set("sentinel:async", "2")
                break
            except redis.ConnectionError:
                assert attempt < 2
        promoted = redis.Redis(port=new_port)
        assert promoted.get("sentinel:sync") == b"2" and promoted.get("sentinel:async") == b"2"
        assert any(k.startswith(config.redis.prefix.encode()) for k in promoted.scan_iter()), "the shop's keys moved"
        promoted.close()


def _write_after_failover(write: object) -> None:
    for attempt in range(3):
        try:
            write()  # type: ignore[operator]
            return
        except redis.ConnectionError:
            assert attempt < 2


def test_a_sentinel_url_is_checked_when_the_config_is_read(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[redis]\nurl = "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/shop/2"\n')
    assert load(good).redis.url.endswith("/shop/2")
    bad = tmp_path / "bad.toml"
    bad.write_text('[redis]\nurl = "redis+sentinel://10.0.0.1/shop"\n')
    with pytest.raises(Exception, match="redis\\+sentinel://host:port"):
        load(bad)
