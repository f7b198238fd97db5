"""What a process holds open: the database, the Redis clients (sync for the domain threads, asyncio for the
loop, and the loop's self-pipelining connection for the inbound hot path), the embedded Redis handle when no URL
is configured, and the clock. Opened once, closed once."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import peewee
import redis
import redis.asyncio as aioredis

from bot.process.config import Config
from bot.process.embedded_redis import EmbeddedRedis
from bot.process.redis_pipe import RedisPipe
from bot.process.redis_urls import async_client, sync_client
from bot.wechat.cs_windows import LoopWindows
from store.core.clock import Clock, process_clock
from store.core.db import close_database, open_database
from store.core.keys import Keys
from store.outbox.windows import WindowQuotas

if TYPE_CHECKING:
    from bot.wechat.api import WeChatGateway


@dataclass
class Resources:
    config: Config
    db: peewee.Database
    redis_url: str
    redis: redis.Redis
    aredis: aioredis.Redis
    pipe: RedisPipe
    clock: Clock
    embedded: EmbeddedRedis | None = field(default=None, repr=False)

    @cached_property
    def key(self) -> Keys:
        """Redis key names in this deployment's namespace (`resources.key("queue")`, `resources.key.cart(openid)`)."""
        return Keys(self.config.redis.prefix)

    @cached_property
    def windows(self) -> LoopWindows:
        """The process's customer-service windows, on the loop's pipelined connection (gateway, pay notify)."""
        shop = self.config.shop
        return LoopWindows(self.pipe, self.key, WindowQuotas(shop.cs_quota_after_message, shop.cs_quota_after_click))

    @property
    def queue_name(self) -> str:
        """The job queue of this deployment (arq's queue name), inside the key namespace."""
        return self.key.queue()

    async def aclose(self) -> None:
        await self.pipe.aclose()
        await self.aredis.aclose()
        self.close_sync()

    def close_sync(self) -> None:
        self.redis.close()
        close_database()
        if self.embedded is not None:
            self.embedded.release()


def redis_url(config: Config) -> tuple[str, EmbeddedRedis | None]:
    """The configured Redis URL, or the shared embedded server's (started on first use)."""
    if config.redis.url:
        return config.redis.url, None
    embedded = EmbeddedRedis(config.var_dir)
    return embedded.acquire(), embedded


def open_resources(config: Config, clock: Clock | None = None) -> Resources:
    db = open_database(config.database.url, config.var_dir)
    url, embedded = redis_url(config)
    options = {"socket_timeout": 5, "socket_connect_timeout": 2, "health_check_interval": 30}
    client = sync_client(url, ThreadAffinePool, **options)
    try:  # one round trip now: a Redis that is away is one clear error, not the job queue's retries and warnings
        client.ping()
    except redis.RedisError:
        client.close()
        close_database()
        if embedded is not None:
            embedded.release()
        raise
    return Resources(
        config=config,
        db=db,
        redis_url=url,
        redis=client,
        aredis=async_client(url, **options),
        pipe=RedisPipe(url, connect_timeout=options["socket_connect_timeout"]),
        clock=clock or process_clock(),
        embedded=embedded,
    )


STALE_CHECK_S = 0.05
_AFFINE_POOLS: weakref.WeakSet[ThreadAffinePool] = weakref.WeakSet()
_FORK_HOOK: list[bool] = []


def _reset_pools_in_child() -> None:
    """After a fork the child must not share the parent's sockets: every pool starts empty."""
    for pool in list(_AFFINE_POOLS):
        pool.reset()


class ThreadAffinePool(redis.ConnectionPool):
    """A connection pool where each thread keeps its own idle connections.

    The stock pool takes a lock and polls the socket (`can_read`) on every checkout, and asks the kernel for the
    process id twice per command (to notice a fork): several microseconds per command on the handler threads'
    hot path. Here a thread takes back the connection it used last, without a lock; a fork is noticed by a fork
    hook instead; and only a connection that sat idle for a while is polled: one in steady use has just proved
    itself, and when Redis restarts every command in the gap fails (disconnecting its connection), so a
    connection that survived the gap idle is polled before it is used again.
    """

    def reset(self) -> None:
        self._local = threading.local()
        self._every: weakref.WeakSet[redis.Connection] = weakref.WeakSet()
        super().reset()
        if not _FORK_HOOK:
            os.register_at_fork(after_in_child=_reset_pools_in_child)
            _FORK_HOOK.append(True)
        _AFFINE_POOLS.add(self)

    def get_connection(self, command_name: object = None, *keys: object, **options: object) -> redis.Connection:
        idle = self._idle()
        if idle:
            connection, released_at = idle.pop()
            if time.monotonic() - released_at > STALE_CHECK_S:
                try:
                    if connection.can_read():
                        raise redis.ConnectionError("connection has unread data or was closed")
                except (redis.ConnectionError, OSError):
                    connection.disconnect()
        else:
            with self._lock:
                connection = self.make_connection()
                self._every.add(connection)
        try:
            connection.connect()
        except BaseException:
            self.release(connection)
            raise
        return connection

    def release(self, connection: redis.Connection) -> None:
        if not self.owns_connection(connection):
            connection.disconnect()
            return
        self._idle().append((connection, time.monotonic()))

    def disconnect(self, inuse_connections: bool = True) -> None:
        self._checkpid()
        with self._lock:
            for connection in list(self._every):
                connection.disconnect()

    def _idle(self) -> list[tuple[redis.Connection, float]]:
        try:
            return self._local.idle
        except AttributeError:
            self._local.idle = []
            return self._local.idle


@contextmanager
def command_redis(config: Config) -> Iterator[redis.Redis]:
    """A Redis client for a short-lived command (the CLI): the configured server, or the embedded one held for
    as long as the command needs it."""
    url, embedded = redis_url(config)
    client = sync_client(url, redis.ConnectionPool, socket_timeout=5)
    try:
        yield client
    finally:
        client.close()
        if embedded is not None:
            embedded.release()


@contextmanager
def command_gateway(config: Config) -> Iterator[WeChatGateway]:
    """The outbound WeChat gateway for a short-lived command, sharing the deployment's access token."""
    from bot.wechat.api import WeChatGateway

    with command_redis(config) as client:
        gateway = WeChatGateway(config, client)
        try:
            yield gateway
        finally:
            gateway.close()


def publish(config: Config, channel: str, message: str) -> None:
    """Announce a change to every running process (from a short-lived command such as an import)."""
    with command_redis(config) as client:
        client.publish(channel, message)
