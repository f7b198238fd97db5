"""The loop's self-pipelining Redis connection: replies in order, errors in place, and fast, bounded failures when
Redis is down, restarted or stalled."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis

from bot.process.redis_pipe import _INCOMPLETE, RedisPipe, RespReader, encode
from tests.redis_support import RedisProcess


def test_reader_takes_replies_in_any_pieces() -> None:
    stream = b"+OK\r\n$-1\r\n:42\r\n$5\r\nhe\r\nl\r\n-ERR wrong\r\n*3\r\n$1\r\na\r\n$-1\r\n*1\r\n:7\r\n*-1\r\n"
    whole = RespReader()
    whole.feed(stream)
    expected = [b"OK", None, 42, b"he\r\nl", "error", [b"a", None, [7]], None]
    got = [whole.gets() for _ in expected]
    assert isinstance(got[4], redis.ResponseError) and str(got[4]) == "ERR wrong"
    assert [g if not isinstance(g, Exception) else "error" for g in got] == expected
    assert whole.gets() is _INCOMPLETE

    bytewise, replies = RespReader(), []
    for i in range(len(stream)):
        bytewise.feed(stream[i : i + 1])
        while (reply := bytewise.gets()) is not _INCOMPLETE:
            replies.append(reply)
    assert [r if not isinstance(r, Exception) else "error" for r in replies] == expected


def test_encode_is_resp() -> None:
    assert (
        encode(("SET", "k", b"v\r\n", 60, 1.5))
        == b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n$2\r\n60\r\n$3\r\n1.5\r\n"
    )
    assert encode(("GET", "键")) == "*2\r\n$3\r\nGET\r\n$3\r\n键\r\n".encode()


async def test_concurrent_calls_get_their_own_replies_in_order(redis_base_url: str, redis_prefix: str) -> None:
    pipe = RedisPipe(redis_base_url)
    try:
        keys = [f"{redis_prefix}pipe:{i}" for i in range(200)]
        assert all(await asyncio.gather(*(pipe.call("SET", k, f"v{i}", "EX", 60) for i, k in enumerate(keys))))
        values = await asyncio.gather(*(pipe.call("GET", k) for k in keys))
        assert values == [f"v{i}".encode() for i in range(200)]
        assert await pipe.call("SET", keys[0], "x", "NX") is None

        with pytest.raises(redis.ResponseError):
            await pipe.call("INCR", keys[1])  # not an integer: the error belongs to this call alone
        assert await pipe.call("GET", keys[1]) == b"v1"

        got: list[object] = []
        pipe.send("SET", keys[2], "sent", on_reply=got.append)
        pipe.send("DEL", keys[3])
        assert await pipe.call("GET", keys[2]) == b"sent" and got == [b"OK"]
        assert await pipe.call("EXISTS", keys[3]) == 0
    finally:
        await pipe.aclose()


async def test_close_waits_for_replies_still_owed(redis_base_url: str, redis_prefix: str) -> None:
    pipe = RedisPipe(redis_base_url)
    await pipe.call("PING")
    got: list[object] = []
    for i in range(50):
        pipe.send("SET", f"{redis_prefix}owed:{i}", i, "EX", 60, on_reply=got.append)
    await pipe.aclose()
    assert got == [b"OK"] * 50


async def test_down_fails_fast_and_a_restart_is_picked_up(own_redis: RedisProcess) -> None:
    pipe = RedisPipe(own_redis.url)
    try:
        assert await pipe.call("SET", "k", "1") == b"OK"
        own_redis.stop()
        with pytest.raises(redis.ConnectionError):
            await pipe.call("GET", "k")
        with pytest.raises(redis.ConnectionError):
            pipe.send("GET", "k")  # no connection: refused at once rather than queued
        with pytest.raises(redis.ConnectionError):
            await pipe.call("GET", "k")  # refused connects are not retried in a tight loop

        own_redis.start()
        pipe._failed_until = 0.0  # skip the reconnect pause instead of sleeping through it
        assert await pipe.call("SET", "k", "2") == b"OK"
        assert await pipe.call("GET", "k") == b"2"
    finally:
        await pipe.aclose()


async def test_a_stalled_server_fails_the_calls_waiting_on_it() -> None:
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read(1 << 16)  # takes the command, never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pipe = RedisPipe(f"redis://127.0.0.1:{port}/0", reply_timeout=0.05)
    try:
        with pytest.raises(redis.TimeoutError):
            await pipe.call("GET", "k")
    finally:
        await pipe.aclose(drain_s=0.01)
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_auth_and_database_from_the_url(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path)
    server.start()
    try:
        admin = redis.Redis(port=server.port)
        admin.config_set("requirepass", "s3cret")
        admin.close()
        pipe = RedisPipe(f"redis://:s3cret@127.0.0.1:{server.port}/3")
        try:
            await pipe.call("SET", "where", "db3")
        finally:
            await pipe.aclose()
        check = redis.Redis(port=server.port, password="s3cret", db=3)
        assert check.get("where") == b"db3"
        check.close()

        wrong = RedisPipe(f"redis://:nope@127.0.0.1:{server.port}/0")
        with pytest.raises(redis.ConnectionError):
            await wrong.call("PING")
        await wrong.aclose()
    finally:
        server.stop()
