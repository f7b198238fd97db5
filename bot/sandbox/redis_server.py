"""A redis-server of our own on a loopback port, that can be stopped and started again on the same port: Redis
outages on purpose, for the tests and the chaos run (`benchmarks.chaos`); beside the emulators because only they
start it, never the shop. With `append_only`, a restart keeps the data (an outage, not a wipe), as a production
Redis with persistence would. `replica_of` starts a replica of another of these, and `SentinelServer` a Sentinel
watching one: a failover on purpose."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from bot.process.embedded_redis import redis_server_binary
from bot.sandbox.ports import free_port

START_TIMEOUT_S = 10.0


class RedisServer:
    def __init__(self, workdir: Path, *, append_only: bool = False, replica_of: int | None = None) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.append_only = append_only
        self.replica_of = replica_of
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [redis_server_binary(), *self._config(), "--port", str(self.port), "--bind", "127.0.0.1"]
        self.proc = subprocess.Popen([*args, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL)
        self._wait_ready()

    def _config(self) -> list[str]:
        args = ["--save", ""]
        if self.append_only:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        if self.replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        return args

    def _wait_ready(self) -> None:
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


class SentinelServer(RedisServer):
    """A Redis Sentinel watching the master on `master_port` as `master_name`, quorum 1, quick to act: a test's
    failover takes seconds, not the production default's half minute."""

    def __init__(self, workdir: Path, master_port: int, master_name: str = "wxshop") -> None:
        super().__init__(workdir)
        self.master_port = master_port
        self.master_name = master_name

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.master_name}/0"

    def _config(self) -> list[str]:
        conf = self.workdir / f"sentinel-{self.port}.conf"  # Sentinel rewrites its file: it must be its own
        conf.write_text(
            f"sentinel monitor {self.master_name} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.master_name} 1000\n"
            f"sentinel failover-timeout {self.master_name} 5000\n"
        )
        return [str(conf), "--sentinel"]

    def master_port_now(self) -> int:
        client = redis.Redis(port=self.port, decode_responses=True)
        try:
            return int(client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name)[1])
        finally:
            client.close()

    def failover(self) -> int:
        """Promote a replica now (SENTINEL FAILOVER) and wait until the Sentinel names it and the old master has
        become its replica (until then the old master still takes writes, which the new one never sees); its port."""
        before = self.master_port_now()
        client = redis.Redis(port=self.port)
        try:
            client.execute_command("SENTINEL", "FAILOVER", self.master_name)
        finally:
            client.close()
        deadline = time.monotonic() + 30
        while (now := self.master_port_now()) == before or _role(before) != "slave":  # the old master demoted too
            if time.monotonic() > deadline:
                raise RuntimeError("the Sentinel did not fail over in 30 s")
            time.sleep(0.1)
        return now


def _role(port: int) -> str:
    client = redis.Redis(port=port, decode_responses=True)
    try:
        return str(client.role()[0])
    finally:
        client.close()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
