"""The shop app and the sandbox (MP API + WeChat Pay emulators) on loopback ports, configured for each other,
with a ManualClock shared by both, and the steps a buyer takes from pay link to payment."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import yarl
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.jobs.outbox_service import build_dispatcher, close_sender, open_sender
from bot.pay.client import WeChatPayClient
from bot.process.config import Config
from bot.sandbox.ports import free_port
from bot.sandbox.server import Sandbox, build_sandbox
from bot.web.app import create_app
from bot.web.runtime import RESOURCES
from scheduler.jobs import JobDeps
from scheduler.outbox import DispatchStats, OutboxSettings
from store.core.clock import ManualClock
from store.core.db import open_database
from store.orders.checkout import ShopRules
from tests.order_support import START, Shop, make_shop
from tests.support import start_app_server

ADMIN_TOKEN = "admin-secret-token"


@dataclass
class PayWorld:
    config: Config
    clock: ManualClock
    sandbox: Sandbox
    app: web.Application
    session: aiohttp.ClientSession
    shop: Shop

    @property
    def shop_url(self) -> str:
        return self.config.server.public_url

    @property
    def sandbox_url(self) -> str:
        return self.config.pay.api_base_url

    @property
    def notify_url(self) -> str:
        return f"{self.shop_url}/pay/notify"

    def deps(self, **overrides: Any) -> JobDeps:
        """What the worker hands its jobs, built the way bot/jobs/worker.py builds it."""
        options: dict[str, Any] = {
            "clock": self.clock,
            "worker_name": "test",
            "pay": WeChatPayClient(self.config),
            "rules": ShopRules.from_settings(self.config.shop),
        }
        return JobDeps(**(options | overrides))

    async def deliver_notices(self) -> DispatchStats:
        """Run the outbox dispatcher once over everything due (what the worker does continuously)."""
        resources = self.app[RESOURCES]
        sender, gateway = open_sender(self.config, resources, 10)
        try:
            settings = OutboxSettings(batch_size=50, lanes=1, concurrency=10)
            return await build_dispatcher(self.config, resources, sender, "test", settings).drain()
        finally:
            await close_sender(sender, gateway)

    async def open_pay_link(self, order_no: str, openid: str) -> aiohttp.ClientResponse:
        """Link → OAuth in the sandbox (as `openid`) → back to the pay page; returns the final response."""
        first = await self.session.get(f"{self.shop_url}/pay/{order_no}", allow_redirects=False)
        assert first.status == 302, await first.text()
        return await self.follow_oauth(first.headers["Location"], openid)

    async def follow_oauth(self, location: str, openid: str) -> aiohttp.ClientResponse:
        assert location.endswith("#wechat_redirect"), location
        authorize = yarl.URL(location.removesuffix("#wechat_redirect")).update_query(sandbox_openid=openid)
        back = await self.session.get(authorize, allow_redirects=False)
        assert back.status == 302, await back.text()
        return await self.session.get(back.headers["Location"], allow_redirects=False)

    async def pay_params(self, order_no: str, openid: str) -> dict[str, str]:
        page = await self.open_pay_link(order_no, openid)
        text = await page.text()
        assert page.status == 200, text
        return jsapi_params(text)

    async def confirm(self, params: dict[str, str], openid: str, action: str = "pay") -> dict[str, Any]:
        """The buyer taps 确认支付 in WeChat (the sandbox's getBrandWCPayRequest)."""
        response = await self.session.post(f"{self.sandbox_url}/sandbox/pay/confirm",
                                           json={**params, "openid": openid, "action": action})  # fmt: skip
        return await response.json()

    async def admin(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with self.session.request(method, f"{self.shop_url}{path}", headers=headers, **kwargs) as response:
            return response.status, await response.json()


def jsapi_params(page: str) -> dict[str, str]:
    found = re.search(r'data-params="([^"]*)"', page)
    assert found, page
    return json.loads(html.unescape(found.group(1)))


@asynccontextmanager
async def pay_world(
    config: Config, *, refund_delay_s: float = 0,
    before_start: Callable[[web.Application, Sandbox], None] | None = None, clock: ManualClock | None = None,
) -> AsyncIterator[PayWorld]:  # fmt: skip
    clock = clock or ManualClock(START)
    sandbox_port, shop_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    config = dataclasses.replace(
        config,
        wechat=dataclasses.replace(config.wechat, api_base_url=sandbox_url),
        pay=dataclasses.replace(config.pay, api_base_url=sandbox_url),
        server=dataclasses.replace(config.server, public_url=f"http://127.0.0.1:{shop_port}"),
        admin=dataclasses.replace(config.admin, api_token=ADMIN_TOKEN),
    )
    sandbox = build_sandbox(config, clock, demo=False)
    if refund_delay_s:
        sandbox.pay.ledger.refund_delay = timedelta(seconds=refund_delay_s)
    sandbox_server = TestServer(sandbox.app, host="127.0.0.1", port=sandbox_port)
    await sandbox_server.start_server()
    shop_server: TestServer | None = None
    try:
        open_database(config.database.url, config.var_dir)
        shop = make_shop()
        app = create_app(config, clock=clock)
        if before_start is not None:
            before_start(app, sandbox)
        shop_server = TestServer(app, host="127.0.0.1", port=shop_port)
        await start_app_server(shop_server)
        async with aiohttp.ClientSession() as session:
            yield PayWorld(config, clock, sandbox, app, session, shop)
    finally:
        if shop_server is not None:
            await shop_server.close()
        await sandbox_server.close()
