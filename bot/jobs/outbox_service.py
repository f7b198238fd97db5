"""The outbox dispatcher assembled for a process: its aiohttp session, the gateway's token, the Redis limits.

`wxshop worker` starts one `OutboxService` on start-up and stops it on shutdown (the current batches finish
first); `wxshop worker --burst` drains it once after its jobs; tests and the benchmark build a `Dispatcher` with
`build_dispatcher` and call `drain()`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import aiohttp

from bot.process.config import Config
from bot.process.resources import Resources
from bot.web.campaign_links import link_maker
from bot.wechat.api import WeChatGateway
from bot.wechat.api_async import AsyncWeChatSender
from scheduler.outbox import Dispatcher, DispatchStats, OutboxSettings
from scheduler.outbox_limits import Liveness, QuotaShares, RateLimiter, SendLog, TemplateQuota
from scheduler.outbox_ports import NoticeSender
from store.outbox.templates import parse_templates
from store.outbox.windows import AsyncCsWindows, WindowQuotas

log = logging.getLogger("wxshop.outbox")

STOP_TIMEOUT_S = 30.0


def outbox_settings(config: Config) -> OutboxSettings:
    return replace(OutboxSettings(), concurrency=config.shop.outbox_concurrency)


def template_quota(config: Config, resources: Resources) -> TemplateQuota:
    """The daily template quota every dispatcher reserves from (and the admin API reads)."""
    shop = config.shop
    shares = QuotaShares(shop.template_quota_share_service, shop.template_quota_share_member_care)
    return TemplateQuota(resources.aredis, resources.key, shop.template_daily_quota, shares)


def build_dispatcher(
    config: Config, resources: Resources, sender: NoticeSender, name: str, settings: OutboxSettings | None = None
) -> Dispatcher:
    shop = config.shop
    key = resources.key
    return Dispatcher(
        sender=sender,
        windows=AsyncCsWindows(
            resources.aredis, key, WindowQuotas(shop.cs_quota_after_message, shop.cs_quota_after_click)
        ),
        quota=template_quota(config, resources),
        rate=RateLimiter(resources.aredis, key, shop.outbox_rate_per_second),
        liveness=Liveness(resources.aredis, key),
        send_log=SendLog(resources.aredis, key),
        templates=parse_templates(config.templates),
        clock=resources.clock,
        name=name,
        settings=settings or outbox_settings(config),
        links=link_maker(config),
    )


def open_sender(config: Config, resources: Resources, concurrency: int) -> tuple[AsyncWeChatSender, WeChatGateway]:
    """A sender on a new ClientSession (call on the event loop); close both with `close_sender`."""
    gateway = WeChatGateway(config, resources.redis)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency),
        timeout=aiohttp.ClientTimeout(total=config.wechat.timeout_s),
    )
    return AsyncWeChatSender(session, config.wechat.api_base_url, gateway), gateway


async def close_sender(sender: AsyncWeChatSender, gateway: WeChatGateway) -> None:
    await sender.session.close()
    await asyncio.to_thread(gateway.close)


class OutboxService:
    """The dispatcher as a long-running task of one worker process."""

    def __init__(self, config: Config, resources: Resources, name: str) -> None:
        self.config = config
        self.resources = resources
        self.name = name
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sender: tuple[AsyncWeChatSender, WeChatGateway] | None = None

    async def start(self) -> None:
        settings = outbox_settings(self.config)
        self._sender = open_sender(self.config, self.resources, settings.connections)
        dispatcher = build_dispatcher(self.config, self.resources, self._sender[0], self.name, settings)
        self._task = asyncio.create_task(dispatcher.run(self._stop), name="outbox-dispatcher")
        log.info("outbox dispatcher started", extra={"dispatcher": dispatcher.id})

    async def drain(self) -> DispatchStats:
        """Deliver what is due now, then return (`--burst`)."""
        settings = outbox_settings(self.config)
        sender = open_sender(self.config, self.resources, settings.connections)
        try:
            return await build_dispatcher(self.config, self.resources, sender[0], self.name, settings).drain()
        finally:
            await close_sender(*sender)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("outbox dispatcher did not stop in time; its batch will be taken over")
            except Exception:
                log.exception("outbox dispatcher ended with an error")
        if self._sender is not None:
            await close_sender(*self._sender)
