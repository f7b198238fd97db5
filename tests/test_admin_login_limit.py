"""The console's sign-in limit over real HTTP: concurrent attempts cannot outrun it, it counts per username and per
client address, X-Forwarded-For names the client only behind a trusted proxy, and a Redis outage is a 503 page."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.process.config import Config, RedisConfig
from bot.web.forwarded import client_address, parse_networks
from tests.console_support import PASSWORD, USER, Console, console_running, create_user, with_token
from tests.redis_support import RedisProcess

UNAVAILABLE = "服务暂时不可用，请稍后再试"


def limited(config: Config, **admin: object) -> Config:
    return with_token(dataclasses.replace(config, admin=dataclasses.replace(config.admin, **admin)))


async def attempt(console: Console, username: str, password: str, forwarded_for: str | None = None) -> int:
    """One sign-in from a client without cookies; its status (303 signed in, 401 wrong, 429 refused)."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    form = {"username": username, "password": password}
    async with console.shop.session.post(console.url("/admin/login"), data=form, headers=headers,
                                         allow_redirects=False) as response:  # fmt: skip
        await response.read()
        return response.status


async def test_a_hundred_parallel_guesses_check_exactly_the_limit(migrated: Config, env: dict[str, str]) -> None:
    """The right password travels with 99 wrong ones; its body is held back until they are answered, so it
    arrives when the limit is taken (which 99 wrong guesses sent at once must reach, not overshoot)."""
    create_user(env)
    release = asyncio.Event()

    async def held_form() -> AsyncIterator[bytes]:
        yield f"username={USER}&".encode()
        await release.wait()
        yield b"password=" + PASSWORD.replace(" ", "+").encode()

    async with (
        console_running(limited(migrated)) as console,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as burst,
    ):

        async def guess(n: int) -> tuple[int, bool]:
            form = {"username": USER, "password": f"guess number {n}"}
            async with burst.post(console.url("/admin/login"), data=form, allow_redirects=False) as response:
                await response.read()
                return response.status, "Set-Cookie" in response.headers

        async def right() -> tuple[int, bool]:
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            async with burst.post(console.url("/admin/login"), data=held_form(), headers=headers,
                                  allow_redirects=False) as response:  # fmt: skip
                await response.read()
                return response.status, "Set-Cookie" in response.headers

        async def guesses() -> list[tuple[int, bool]]:
            try:
                return await asyncio.gather(*(guess(n) for n in range(99)))
            finally:
                release.set()

        wrong, correct = await asyncio.gather(guesses(), right())
        statuses = [status for status, _ in wrong]
        assert statuses.count(401) == 5 and statuses.count(429) == 94, sorted(statuses)
        assert correct == (429, False), "the right password is refused once the limit is taken"
        assert not any(cookie for _, cookie in wrong)
        assert await attempt(console, USER, PASSWORD) == 429


async def test_signing_in_starts_the_username_afresh(migrated: Config, env: dict[str, str]) -> None:
    create_user(env)
    async with console_running(limited(migrated, login_max_failures=3)) as console:
        assert [await attempt(console, USER, "wrong") for _ in range(2)] == [401, 401]
        assert await attempt(console, USER, PASSWORD) == 303
        assert [await attempt(console, USER, "wrong") for _ in range(4)] == [401, 401, 401, 429]


async def test_the_address_limit_spans_usernames(migrated: Config, env: dict[str, str]) -> None:
    create_user(env)
    async with console_running(limited(migrated, login_max_failures_per_address=4)) as console:
        assert [await attempt(console, f"user{n}", "wrong") for n in range(4)] == [401] * 4
        assert await attempt(console, "user9", "wrong") == 429
        assert await attempt(console, USER, PASSWORD) == 429, "a fresh username does not help from this address"


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(migrated: Config, env: dict[str, str]) -> None:
    create_user(env)
    behind = limited(migrated, login_max_failures_per_address=2, trusted_proxies=("127.0.0.0/8",))
    async with console_running(behind) as console:
        assert await attempt(console, "u1", "wrong", "203.0.113.7") == 401
        assert await attempt(console, "u2", "wrong", "198.51.100.1, 203.0.113.7") == 401
        forged = "203.0.113.99, 203.0.113.7"  # the client wrote the left part; our proxy appended the right
        assert await attempt(console, "u3", "wrong", forged) == 429
        assert await attempt(console, "u4", "wrong", "203.0.113.8") == 401, "another client has its own count"
        assert await attempt(console, USER, PASSWORD, "203.0.113.8") == 303

    async with console_running(limited(migrated, login_max_failures_per_address=2)) as console:
        assert await attempt(console, "u1", "wrong", "203.0.113.1") == 401
        assert await attempt(console, "u2", "wrong", "203.0.113.2") == 401
        assert await attempt(console, "u3", "wrong", "203.0.113.3") == 429, "the header is ignored: no trusted proxy"


@pytest.mark.parametrize(
    ("peer", "header", "trusted", "client"),
    [
        ("10.0.0.2", ["1.2.3.4"], (), "10.0.0.2"),
        ("10.0.0.2", ["1.2.3.4"], ("10.0.0.0/8",), "1.2.3.4"),
        ("10.0.0.2", ["9.9.9.9, 1.2.3.4, 10.0.0.7"], ("10.0.0.0/8",), "1.2.3.4"),
        ("10.0.0.2", ["9.9.9.9", "1.2.3.4"], ("10.0.0.0/8",), "1.2.3.4"),
        ("10.0.0.2", ["10.0.0.9, 10.0.0.8"], ("10.0.0.0/8",), "10.0.0.9"),
        ("10.0.0.2", ["1.2.3.4, not-an-address"], ("10.0.0.0/8",), "10.0.0.2"),
        ("10.0.0.2", [], ("10.0.0.0/8",), "10.0.0.2"),
        ("::1", ["2001:db8::5"], ("::1",), "2001:db8::5"),
    ],
)
def test_client_address(peer: str, header: list[str], trusted: tuple[str, ...], client: str) -> None:
    assert client_address(peer, header, parse_networks(trusted)) == client


async def test_signing_in_without_redis_is_a_503_page(migrated: Config, env: dict[str, str], tmp_path: Path) -> None:
    create_user(env)
    redis_server = RedisProcess(tmp_path)
    redis_server.start()
    try:
        config = dataclasses.replace(migrated, redis=RedisConfig(url=redis_server.url, prefix=migrated.redis.prefix))
        async with console_running(with_token(config)) as console:
            redis_server.stop()
            form = await console.browser.get(console.url("/admin/login"))
            assert form.status == 200, "the form itself needs no Redis"
            refused = await console.login()
            page = await refused.text()
            assert refused.status == 503 and UNAVAILABLE in page and "<title>" in page, (refused.status, page)
            assert "Set-Cookie" not in refused.headers
            redis_server.start()
            assert (await console.login()).status == 303, "signing in works again once Redis is back"
    finally:
        redis_server.stop()
