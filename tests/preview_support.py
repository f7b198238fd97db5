"""The demo assembly on loopback ports, for the preview and `wxshop chat` tests: the shop app with the chat
preview and the sandbox (MP API, Pay, tracking emulators) in this process, as `wxshop demo` runs them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from bot.process.config import Config, load
from bot.sandbox.ports import free_port
from bot.sandbox.preview import setup_preview
from bot.sandbox.server import Sandbox, build_sandbox
from bot.web.app import create_app
from bot.web.runtime import RESOURCES
from bot.wechat.api import WeChatGateway
from store.core.clock import ManualClock
from tests.support import ROOT


def with_default_menu(config: Config) -> Config:
    """The test config with the custom menu of the documented default config.toml."""
    return dataclasses.replace(config, menu=load(ROOT / "config.toml", env={}).menu)


@dataclass
class Demo:
    config: Config
    clock: ManualClock
    sandbox: Sandbox
    shop: web.Application
    session: aiohttp.ClientSession

    @property
    def base(self) -> str:
        return self.config.server.public_url

    async def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        """(status, parsed JSON) of a preview API call."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        async with self.session.request(method, f"{self.base}/sandbox/api/{path}", data=data) as response:
            assert response.content_type == "application/json", response.content_type
            return response.status, await response.json()

    async def send(self, openid: str, kind: str, **fields: Any) -> dict[str, Any]:
        status, body = await self.call("POST", "send", {"openid": openid, "kind": kind, **fields})
        assert status == 200, body
        return body

    async def new_follower(self, follow: bool = True) -> str:
        status, body = await self.call("POST", "followers", {})
        assert status == 201, body
        openid = body["follower"]["openid"]
        if follow:
            await self.send(openid, "follow")
        return openid

    def gateway(self) -> WeChatGateway:
        """The shop's real outbound gateway (wechatpy), pointed at this sandbox; blocking, use a thread."""
        return WeChatGateway(self.config, self.shop[RESOURCES].redis)

    async def send_custom_text(self, openid: str, text: str) -> None:
        gateway = self.gateway()
        try:
            await asyncio.to_thread(gateway.send_text, openid, text)
        finally:
            gateway.close()


@asynccontextmanager
async def demo_running(
    config: Config, clock: ManualClock | None = None, extra_routes: list[web.RouteDef] | None = None
) -> AsyncIterator[Demo]:
    """`wxshop demo`'s assembly on two free loopback ports (background notices and parcel walks off)."""
    clock = clock or ManualClock()
    shop_port, sandbox_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    config = dataclasses.replace(
        config,
        server=dataclasses.replace(
            config.server, host="127.0.0.1", port=shop_port, public_url=f"http://127.0.0.1:{shop_port}"
        ),
        wechat=dataclasses.replace(config.wechat, api_base_url=sandbox_url),
        pay=dataclasses.replace(config.pay, api_base_url=sandbox_url),
        logistics=dataclasses.replace(config.logistics, api_base_url=sandbox_url),
    )
    sandbox = build_sandbox(config, clock, demo=False)
    shop = create_app(config, clock=clock)
    setup_preview(shop, sandbox)
    if extra_routes:
        shop.router.add_routes(extra_routes)
    runners = [web.AppRunner(sandbox.app, access_log=None), web.AppRunner(shop, access_log=None)]
    started: list[web.AppRunner] = []
    try:
        for runner in runners:
            await runner.setup()
            started.append(runner)
        await web.TCPSite(runners[0], "127.0.0.1", sandbox_port).start()
        await web.TCPSite(runners[1], "127.0.0.1", shop_port).start()
        async with aiohttp.ClientSession() as session:
            yield Demo(config, clock, sandbox, shop, session)
    finally:
        for runner in reversed(started):
            await runner.cleanup()


def assert_shows_in_order(chat_lines: list[str], history: list[dict[str, Any]], shop: str) -> None:
    """`wxshop chat`'s output holds every line the preview shows for the follower (their own text as `你> …`,
    every message of the account), in the preview's order."""
    from bot.cli.chat import PROMPT, render

    expected: list[str] = []
    for entry in history:
        if entry["from"] != "follower":
            expected += render(entry, shop)
        elif entry["kind"] == "text":
            expected.append(PROMPT + entry["text"])
    shown = iter(chat_lines)
    missing = [line for line in expected if not any(line == seen for seen in shown)]
    chat = "\n".join(chat_lines)
    assert not missing, "the chat lacks (or misorders) what the preview shows:\n" + "\n".join(missing) + "\n" + chat
