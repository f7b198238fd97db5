"""The sync Redis client's pool: each thread reuses its own connection, and a connection left over from before a
Redis restart is replaced before it is used, not failed on."""

from __future__ import annotations

import os
import threading

import pytest
import redis

from bot.process import resources
from bot.process.resources import ThreadAffinePool
from tests.redis_support import RedisProcess


def test_each_thread_keeps_its_connection(redis_base_url: str, redis_prefix: str) -> None:
    client = redis.Redis(connection_pool=ThreadAffinePool.from_url(redis_base_url))
    seen: dict[str, set[int]] = {}

    def use(name: str) -> None:
        ids = set()
        for i in range(20):
            client.set(f"{redis_prefix}{name}:{i}", i, ex=60)
            connection = client.connection_pool.get_connection()
            ids.add(id(connection))
            client.connection_pool.release(connection)
        seen[name] = ids

    threads = [threading.Thread(target=use, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(ids) == 1 for ids in seen.values()), "one connection per thread, reused"
    assert len(set().union(*seen.values())) == 4
    with client.pipeline() as pipe:
        assert pipe.get(f"{redis_prefix}t0:3").get(f"{redis_prefix}t3:19").execute() == [b"3", b"19"]
    client.close()


def test_a_connection_from_before_a_restart_is_replaced(
    own_redis: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "STALE_CHECK_S", 0.0)  # every checkout counts as "after a pause"
    client = redis.Redis(connection_pool=ThreadAffinePool.from_url(own_redis.url))
    client.set("k", "before")
    own_redis.stop()
    with pytest.raises(redis.ConnectionError):
        client.get("k")
    own_redis.start()
    client.set("k", "after")
    own_redis.stop()
    own_redis.start()  # an idle connection's peer went away: polled, found closed, reconnected
    assert client.get("k") is None and client.set("k", "again")
    client.connection_pool.disconnect()
    client.close()


def test_a_forked_child_opens_its_own_connection(redis_base_url: str, redis_prefix: str) -> None:
    client = redis.Redis(connection_pool=ThreadAffinePool.from_url(redis_base_url))
    client.set(f"{redis_prefix}fork", "parent", ex=60)
    parent_connection = client.connection_pool.get_connection()
    client.connection_pool.release(parent_connection)
    pid = os.fork()
    if pid == 0:  # the child: a new connection, and the parent's is left alone
        try:
            child_connection = client.connection_pool.get_connection()
            ok = child_connection is not parent_connection and client.get(f"{redis_prefix}fork") == b"parent"
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.get(f"{redis_prefix}fork") == b"parent", "the parent's connection still works"
    client.close()
