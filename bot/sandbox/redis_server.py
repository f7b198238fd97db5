"""A redis-server of our own on a loopback port, that can be stopped and started again on the same port: Redis
outages on purpose, for the tests and the chaos run (`benchmarks.chaos`); beside the emulators because only they
start it, never the shop. With `append_only`, a restart keeps the data (an outage, not a wipe), as a production
Redis with persistence would."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from bot.process.embedded_redis import redis_server_binary
from bot.sandbox.ports import free_port

START_TIMEOUT_S = 10.0


class RedisServer:
    def __init__(self, workdir: Path, *, append_only: bool = False) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.append_only = append_only
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if self.append_only:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        self.proc = subprocess.Popen([*args, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _pings(client):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} did not start in {START_TIMEOUT_S:g} s")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
