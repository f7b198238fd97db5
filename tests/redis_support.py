"""A real redis-server a test can stop and start again on the same port: outages, not stand-ins."""

from __future__ import annotations

import subprocess
from pathlib import Path

import redis

from bot.process.embedded_redis import redis_server_binary
from bot.sandbox.ports import free_port
from tests.support import wait_until


class RedisProcess:
    """A real redis-server on a loopback port that a test can stop and start again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir"]
        self.proc = subprocess.Popen([*args, str(self.workdir)], stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        wait_until(lambda: _pings(client), 10, "redis-server to start")
        client.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
