"""The console's world for tests: a shop with one paid order, a console user made through the CLI, and a browser-like
HTTP client (one that keeps the cookies of a loopback address)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from bot.process.config import Config
from store.core.clock import ManualClock
from store.core.db import close_database, open_database
from tests.gateway_support import Running, running
from tests.logistics_support import paid_order
from tests.order_support import BUYER, make_shop
from tests.support import wxshop
from tests.test_engine import TOKEN

USER, PASSWORD = "alice", "correct horse 42"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def create_user(env: dict[str, str], username: str = USER, password: str = PASSWORD) -> None:
    made = wxshop("admin", "create-user", username, "--password-stdin", env=env, input=f"{password}\n")
    assert made.returncode == 0, made.stderr
    assert f"admin user {username!r} created" in made.stdout


def seed_paid_order(config: Config) -> str:
    """A paid, unshipped order of one dress; its number."""
    open_database(config.database.url, config.var_dir)
    try:
        return paid_order(make_shop(), BUYER).order_no
    finally:
        close_database()


@dataclass
class Console:
    shop: Running
    browser: aiohttp.ClientSession  # keeps cookies, as a browser would

    def url(self, path: str) -> str:
        return str(self.shop.server.make_url(path))

    async def login(self, username: str = USER, password: str = PASSWORD) -> aiohttp.ClientResponse:
        form = {"username": username, "password": password}
        async with self.browser.post(self.url("/admin/login"), data=form, allow_redirects=False) as response:
            await response.read()
            return response

    async def csrf(self) -> str:
        async with self.browser.get(self.url("/admin/api/session")) as response:
            assert response.status == 200, await response.text()
            return (await response.json())["csrf_token"]


def with_token(config: Config, token: str = TOKEN, **server: object) -> Config:
    return dataclasses.replace(
        config,
        admin=dataclasses.replace(config.admin, api_token=token),
        server=dataclasses.replace(config.server, **server),
    )


@asynccontextmanager
async def console_running(config: Config, clock: ManualClock | None = None) -> AsyncIterator[Console]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with running(config, clock) as shop, aiohttp.ClientSession(cookie_jar=jar) as browser:
        yield Console(shop, browser)
