"""A standing worker outlives a Redis outage: it builds itself again, with growing waits, and carries on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import redis

from tests.redis_support import RedisProcess
from tests.support import ROOT, child_env, wait_until


def _beating(client: redis.Redis, pattern: str) -> bool:
    try:
        return bool(client.keys(pattern))
    except redis.ConnectionError:
        return False


def test_the_worker_carries_on_after_redis_goes_away_and_comes_back(
    env: dict[str, str], own_redis: RedisProcess, tmp_path: Path
) -> None:
    alive = f"{env['WXSHOP_REDIS__PREFIX']}outbox:alive:*"  # the outbox dispatcher's beat, every second
    client = redis.Redis(port=own_redis.port)
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            env=child_env({**env, "WXSHOP_REDIS__URL": own_redis.url}), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(lambda: _beating(client, alive), 30, "the worker's first beat")
        own_redis.stop()  # the Redis server goes away (it keeps nothing on disk) ...
        wait_until(lambda: "worker lost Redis, starting again" in log.read_text(), 30, "the worker to notice")
        own_redis.start()  # ... and comes back empty on the same port
        wait_until(lambda: _beating(client, alive), 30, "the worker beating on the new Redis")
        assert worker.poll() is None, "the worker is still running"
    finally:
        worker.terminate()
        worker.wait(30)
        client.close()
    assert worker.returncode == 0, log.read_text()[-2000:]
