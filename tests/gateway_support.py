"""Running the real app on a loopback port with a follower simulator in front of it."""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.process.config import Config
from bot.sandbox.follower import Account, FollowerSimulator, Mode, sign
from bot.web.app import create_app
from bot.wechat.gateway import INBOUND
from store.core.clock import ManualClock
from tests.support import start_app_server

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OLD_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"


def with_mode(config: Config, mode: Mode, **server: object) -> Config:
    wechat = dataclasses.replace(config.wechat, encoding_aes_key="" if mode == "plain" else AES_KEY)
    return dataclasses.replace(config, wechat=wechat, server=dataclasses.replace(config.server, **server))


def account_for(config: Config, mode: Mode, key: str | None = None) -> Account:
    return Account(
        token=config.wechat.token,
        app_id=config.wechat.app_id,
        original_id=config.wechat.original_id,
        encoding_aes_key=key if key is not None else config.wechat.encoding_aes_key,
        mode=mode,
    )


@dataclass
class Running:
    app: web.Application
    server: TestServer
    session: aiohttp.ClientSession
    clock: ManualClock
    config: Config

    @property
    def url(self) -> str:
        return str(self.server.make_url(self.config.server.wechat_path))

    def signed_query(self, **extra: str) -> dict[str, str]:
        """A query signed as WeChat signs it, now by the shop's clock, with a fresh nonce."""
        timestamp, nonce = str(int(self.clock.now().timestamp())), secrets.token_hex(5)
        signature = sign(self.config.wechat.token, timestamp, nonce)
        return {"timestamp": timestamp, "nonce": nonce, "signature": signature, **extra}

    def follower(self, mode: Mode = "plain", key: str | None = None, **options: object) -> FollowerSimulator:
        return FollowerSimulator(
            self.url, account_for(self.config, mode, key), self.session, self.clock, **options  # type: ignore[arg-type]
        )


@asynccontextmanager
async def running(config: Config, clock: ManualClock | None = None) -> AsyncIterator[Running]:
    clock = clock or ManualClock()
    app = create_app(config, clock=clock)
    server = TestServer(app, host="127.0.0.1")
    await start_app_server(server)
    try:
        async with aiohttp.ClientSession() as session:
            yield Running(app, server, session, clock, config)
    finally:
        await server.close()


class CountingHandler:
    """A text handler with a visible side effect: how many times a message was handled, answered with
    `reply(count, content)`, after `delay_s` (so retries can arrive while it runs)."""

    def __init__(self, reply: Callable[[int, str], str], delay_s: float = 0.0) -> None:
        self.calls = 0
        self.reply = reply
        self.delay_s = delay_s
        self._lock = threading.Lock()

    def __call__(self, message) -> str:
        with self._lock:
            self.calls += 1
            text = self.reply(self.calls, message.content)
        if self.delay_s:
            time.sleep(self.delay_s)
        return text


def count_texts(shop: Running, reply: Callable[[int, str], str], delay_s: float = 0.0) -> CountingHandler:
    """Put a `CountingHandler` in front of the shop's text handlers."""
    counter = CountingHandler(reply, delay_s)
    shop.app[INBOUND].robot._handlers["text"].insert(0, (counter, 1))
    return counter
