"""Where Redis is: a plain URL (`redis://`, `rediss://`, `unix://`), or a master behind Redis Sentinel.

A deployment that outgrows one Redis server runs it with replicas and Sentinels; every client of the shop then
asks the Sentinels which server is the master, and asks again after a failover. The URL form (one string, like the
others, so `[redis] url` and `WXSHOP_REDIS__URL` keep working):

    redis+sentinel://[[username]:password@]host:port[,host:port...]/master_name[/db]

The credentials are the master's; the Sentinels themselves are reached without them (as redis-py does by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import redis
import redis.asyncio as aioredis
from arq.connections import RedisSettings
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.sentinel import Sentinel

SCHEME = "redis+sentinel://"


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None

    @property
    def credentials(self) -> dict[str, Any]:
        """The master's connection options: database, and the credentials when given."""
        found: dict[str, Any] = {"db": self.db}
        if self.username:
            found["username"] = self.username
        if self.password:
            found["password"] = self.password
        return found


def sentinel_target(url: str) -> SentinelTarget | None:
    """The Sentinels and master a `redis+sentinel://` URL names (ValueError when malformed); None for other URLs."""
    if not url.startswith(SCHEME):
        return None
    rest = url[len(SCHEME):]
    auth, _, rest = rest.rpartition("@")
    hosts, _, path = rest.partition("/")
    username, _, password = auth.partition(":") if ":" in auth else ("", "", auth)
    parts = [p for p in path.split("/") if p]
    if not hosts or not parts or len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise ValueError("expected redis+sentinel://host:port[,host:port...]/master_name[/db]")
    sentinels = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise ValueError(f"sentinel address {host!r}: expected host:port")
        sentinels.append((name.strip("[]"), int(port)))
    return SentinelTarget(
        tuple(sentinels), unquote(parts[0]), int(parts[1]) if len(parts) == 2 else 0,
        unquote(username) or None, unquote(password) or None,
    )  # fmt: skip


def sync_client(url: str, pool: type[redis.ConnectionPool], **options: Any) -> redis.Redis:
    """A client for threads: from `pool` (a pool class with `from_url`), or from the Sentinels' current master."""
    target = sentinel_target(url)
    if target is None:
        return redis.Redis(connection_pool=pool.from_url(url, **options))
    sentinel = Sentinel(list(target.sentinels), **_socket_options(options))
    return sentinel.master_for(target.master, redis_class=redis.Redis, **options, **target.credentials)


def async_client(url: str, **options: Any) -> aioredis.Redis:
    target = sentinel_target(url)
    if target is None:
        return aioredis.Redis.from_url(url, **options)
    sentinel = AsyncSentinel(list(target.sentinels), **_socket_options(options))
    return sentinel.master_for(target.master, redis_class=aioredis.Redis, **options, **target.credentials)


def arq_settings(url: str) -> RedisSettings:
    """The job queue's connection (arq asks the Sentinels itself when given them)."""
    target = sentinel_target(url)
    if target is None:
        return RedisSettings.from_dsn(url)
    return RedisSettings(
        host=list(target.sentinels), sentinel=True, sentinel_master=target.master, database=target.db,
        username=target.username, password=target.password,
    )  # fmt: skip


async def master_address(target: SentinelTarget, timeout: float) -> tuple[str, int]:
    """The master's address as the Sentinels know it now (redis.MasterNotFoundError when none answers)."""
    sentinel = AsyncSentinel(list(target.sentinels), socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        host, port = await sentinel.discover_master(target.master)
    finally:
        for client in sentinel.sentinels:
            await client.aclose()
    return host, int(port)


def _socket_options(options: dict[str, Any]) -> dict[str, Any]:
    """The Sentinels are asked with the same socket timeouts as the master."""
    return {"sentinel_kwargs": {k: v for k, v in options.items() if k.startswith("socket_")}}
