"""One Redis connection for the event loop that pipelines by itself: every command issued while the loop runs one
iteration goes out in one write, and replies resolve their callers in order.

Why not `redis.asyncio`: its round trip costs several times a sync one (a pool checkout with an asyncio lock, a
stream read per reply). Measured with `benchmarks.inbound` (2026-12-05, 2 cores, the same calls made through
`redis.asyncio`'s `execute_command` instead): the serve process spent 710–880 µs of CPU per keyword message
against 310–435 µs here, and 1,490–1,770 µs against 600–610 µs per `flow_db` step; the `flow_db` mix fell to
0.21–0.28× the echo bot, under DESIGN §7's 0.30×. Why not the sync client on a handler thread: there every
command is a blocking round trip, a sleep and a wake-up of that thread, which costs more CPU than the command.
Here the loop never waits on Redis: under load a whole batch of requests shares one write and one read, and a
command issued without waiting for its reply (`send`) costs only its encoding.

Failures are fast and bounded: a lost connection fails what is in flight with `redis.ConnectionError`, a refused
connect is not retried for `RETRY_CONNECT_S`, and when replies are owed but none has come for `reply_timeout` the
connection is dropped and its callers get `redis.TimeoutError` (a reply that never came leaves the stream useless).

Behind Sentinel (`bot.process.redis_urls`), each connect asks the Sentinels for the master; a READONLY reply (the
server was demoted in a failover) drops the connection, so the next command goes to the new master.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import redis
from redis.connection import parse_url

from bot.process.redis_urls import master_address, sentinel_target

log = logging.getLogger("wxshop.redis")

RETRY_CONNECT_S = 0.5

Reply = Any
_INCOMPLETE = object()


class RespReader:
    """Incremental RESP2 parser: error replies come back as `redis.ResponseError` instances, not raised."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.pos = 0

    def feed(self, data: bytes) -> None:
        if self.pos and self.pos == len(self.buf):
            self.buf.clear()
            self.pos = 0
        self.buf += data

    def gets(self) -> Reply:
        """The next complete reply, or `_INCOMPLETE`."""
        value, pos = self._parse(self.pos)
        if value is _INCOMPLETE:
            return _INCOMPLETE
        self.pos = pos
        if pos > 65536 and pos * 2 > len(self.buf):
            del self.buf[:pos]
            self.pos = 0
        return value

    def _parse(self, pos: int) -> tuple[Reply, int]:
        buf = self.buf
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return _INCOMPLETE, pos
        kind, line = buf[pos], bytes(buf[pos + 1 : end])
        pos = end + 2
        if kind == 36:  # $ bulk string
            size = int(line)
            if size < 0:
                return None, pos
            if len(buf) < pos + size + 2:
                return _INCOMPLETE, pos
            return bytes(buf[pos : pos + size]), pos + size + 2
        if kind == 43:  # + simple string
            return line, pos
        if kind == 58:  # : integer
            return int(line), pos
        if kind == 45:  # - error
            return redis.ResponseError(line.decode(errors="replace")), pos
        if kind == 42:  # * array
            count = int(line)
            if count < 0:
                return None, pos
            items = []
            for _ in range(count):
                item, pos = self._parse(pos)
                if item is _INCOMPLETE:
                    return _INCOMPLETE, pos
                items.append(item)
            return items, pos
        raise redis.ConnectionError(f"unexpected byte {kind!r} from Redis")


@cache
def _sha(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()


def encode(args: tuple[Any, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int | float):
            arg = repr(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class _Protocol(asyncio.Protocol):
    def __init__(self, pipe: RedisPipe) -> None:
        self.pipe = pipe
        self.reader = RespReader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reader, waiting = self.reader, self.pipe._waiting
        reader.feed(data)
        try:
            while (reply := reader.gets()) is not _INCOMPLETE:
                if not waiting:
                    raise redis.ConnectionError("reply from Redis that nobody asked for")
                self.pipe._received += 1
                _resolve(waiting.popleft(), reply)
                if isinstance(reply, redis.ResponseError) and str(reply).startswith("READONLY"):
                    raise redis.ConnectionError("Redis server is a replica now (failover): reconnecting")
        except redis.ConnectionError as exc:
            self.pipe._lost(self, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pipe._lost(self, redis.ConnectionError(f"Redis connection lost: {exc or 'closed by server'}"))


Waiter = asyncio.Future | Callable[[Reply], None] | None


def _resolve(waiter: Waiter, reply: Reply) -> None:
    if waiter is None:
        return
    if isinstance(waiter, asyncio.Future):
        if waiter.done():
            return
        if isinstance(reply, Exception):
            waiter.set_exception(reply)
        else:
            waiter.set_result(reply)
    else:
        try:
            waiter(reply)
        except Exception:  # a callback's bug must not break the stream for everyone else
            log.exception("Redis reply callback failed")


class RedisPipe:
    """Commands from the loop's thread only. `call` awaits the reply; `send` queues a command and hands its reply
    (or the error that replaced it) to an optional callback."""

    def __init__(self, url: str, connect_timeout: float = 2.0, reply_timeout: float = 0.5) -> None:
        self.sentinel = sentinel_target(url)
        options = parse_url(url) if self.sentinel is None else dict(self.sentinel.credentials)
        self.tls: ssl.SSLContext | None = None
        if "ssl" in getattr(options.get("connection_class"), "__name__", "").lower():  # rediss://
            self.tls = ssl.create_default_context()
            if str(options.get("ssl_cert_reqs", "required")).lower() in ("none", "cert_none"):
                self.tls.check_hostname, self.tls.verify_mode = False, ssl.CERT_NONE
        self.options = options
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self._watchdog: asyncio.TimerHandle | None = None
        self._received = 0
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._failed_until = 0.0
        self._failure: Exception | None = None
        self._out: list[bytes] = []
        self._waiting: deque[Waiter] = deque()
        self._flush_scheduled = False
        self._closed = False

    async def call(self, *args: Any) -> Reply:
        """Run one command; raise `redis.ConnectionError`/`redis.TimeoutError` when Redis is unreachable or
        stalled, `redis.ResponseError` when it refuses the command."""
        if self._protocol is None:
            await self._connect()
            if self._protocol is None:
                raise redis.ConnectionError("Redis connection lost")
        future = asyncio.get_running_loop().create_future()
        self._queue(args, future)
        return await future

    def request(self, *args: Any) -> asyncio.Future[Reply]:
        """Queue a command and return the future of its reply, without a coroutine: commands requested before
        the caller's next `await` share one write. Raises `redis.ConnectionError` when there is no connection."""
        if self._protocol is None:
            raise self._failure or redis.ConnectionError("Redis connection not open")
        future = asyncio.get_running_loop().create_future()
        self._queue(args, future)
        return future

    def send(self, *args: Any, on_reply: Callable[[Reply], None] | None = None) -> None:
        """Queue a command without waiting; raises `redis.ConnectionError` only when there is no connection."""
        protocol = self._protocol
        if protocol is None:
            raise self._failure or redis.ConnectionError("Redis connection not open")
        self._queue(args, on_reply)

    async def call_script(self, source: str, keys: Sequence[Any], args: Sequence[Any]) -> Reply:
        """Run a Lua script by its SHA1, sending its source only when Redis lost it (a restart, SCRIPT FLUSH)."""
        try:
            return await self.call("EVALSHA", _sha(source), len(keys), *keys, *args)
        except redis.ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.call("EVAL", source, len(keys), *keys, *args)

    def send_script(
        self, source: str, keys: Sequence[Any], args: Sequence[Any], on_reply: Callable[[Reply], None]
    ) -> None:
        """`call_script` without waiting: the reply (or the error) goes to `on_reply`."""

        def answered(reply: Reply) -> None:
            if isinstance(reply, redis.ResponseError) and str(reply).startswith("NOSCRIPT"):
                try:
                    self.send("EVAL", source, len(keys), *keys, *args, on_reply=on_reply)
                except redis.RedisError as exc:
                    on_reply(exc)
                return
            on_reply(reply)

        self.send("EVALSHA", _sha(source), len(keys), *keys, *args, on_reply=answered)

    def _queue(self, args: tuple[Any, ...], waiter: Waiter) -> None:
        """Commands are queued only while a connection is open, and `_lost` clears both queues together, so
        what the next flush writes always matches what waits for a reply."""
        self._out.append(encode(args))
        self._waiting.append(waiter)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().call_later(self.reply_timeout, self._watch, self._received)

    def _flush(self) -> None:
        self._flush_scheduled = False
        out, self._out = self._out, []
        protocol = self._protocol
        if out and protocol is not None and protocol.transport is not None:
            protocol.transport.write(b"".join(out))

    def _watch(self, received: int) -> None:
        """Replies outstanding and none received for a whole period: Redis is stalled or the link is dead. One
        timer for the connection instead of one per command."""
        self._watchdog = None
        if not self._waiting or self._protocol is None:
            return
        if self._received == received:
            self._lost(self._protocol, redis.TimeoutError(f"no reply from Redis in {self.reply_timeout:g}s"))
            return
        self._watchdog = asyncio.get_running_loop().call_later(self.reply_timeout, self._watch, self._received)

    async def _connect(self) -> _Protocol:
        if self._closed:
            raise redis.ConnectionError("Redis connection closed")
        if self._connecting is None:
            if time.monotonic() < self._failed_until:
                raise self._failure or redis.ConnectionError("Redis unavailable")
            self._connecting = asyncio.ensure_future(self._open())
            self._connecting.add_done_callback(self._connect_done)
        return await asyncio.shield(self._connecting)

    def _connect_done(self, task: asyncio.Future[_Protocol]) -> None:
        if self._connecting is task:
            self._connecting = None
        if not task.cancelled():
            task.exception()  # retrieved here: every caller waiting on it got it already

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        options = self.options
        try:
            if "path" in options:
                connecting = loop.create_unix_connection(lambda: _Protocol(self), options["path"])
            else:
                host, port = options.get("host", "localhost"), options.get("port", 6379)
                if self.sentinel is not None:
                    host, port = await master_address(self.sentinel, self.connect_timeout)
                connecting = loop.create_connection(lambda: _Protocol(self), host, port, ssl=self.tls)
            _, protocol = await asyncio.wait_for(connecting, self.connect_timeout)
            self._protocol = protocol
            setup = []
            if options.get("password"):
                setup.append(("AUTH", *filter(None, (options.get("username"), options["password"]))))
            if options.get("db"):
                setup.append(("SELECT", options["db"]))
            for command in setup:
                await self.call(*command)
        except (OSError, TimeoutError, redis.RedisError) as exc:
            failure = exc if isinstance(exc, redis.ConnectionError) else redis.ConnectionError(f"Redis: {exc}")
            self._failure, self._failed_until = failure, time.monotonic() + RETRY_CONNECT_S
            if self._protocol is not None:
                self._lost(self._protocol, failure)
            raise failure from None
        self._failure = None
        return protocol

    def _lost(self, protocol: _Protocol, error: Exception) -> None:
        """Drop the connection and fail everything still waiting on it (the next call reconnects)."""
        if protocol is not self._protocol:
            return
        self._protocol = None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if protocol.transport is not None:
            protocol.transport.abort()
        waiting, self._waiting = self._waiting, deque()
        self._out = []
        for waiter in waiting:
            _resolve(waiter, error)

    async def aclose(self, drain_s: float = 1.0) -> None:
        """Close after the replies still owed arrive (commands sent without waiting, such as stored answers,
        complete rather than being cut off), or after `drain_s`."""
        if self._protocol is not None and self._waiting:
            with contextlib.suppress(redis.RedisError, TimeoutError):
                await asyncio.wait_for(self.call("PING"), drain_s)
        self._closed = True
        if self._protocol is not None:
            self._lost(self._protocol, redis.ConnectionError("Redis connection closed"))
        if self._connecting is not None:
            self._connecting.cancel()
