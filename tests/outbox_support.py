"""The outbox against the MP API emulator in-process: a World on a ManualClock, the emulator on a loopback port,
the real dispatcher (aiohttp sender, Redis limits, database claims) pointed at it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestServer

from bot.jobs.outbox_service import build_dispatcher, close_sender, open_sender
from bot.process.config import Config
from bot.process.resources import Resources, open_resources
from bot.sandbox import World
from bot.sandbox.mp_api import create_mp_app
from bot.sandbox.mp_state import MpState, mp_state
from scheduler.outbox import Dispatcher, DispatchStats, OutboxSettings
from store.core.clock import ManualClock
from store.outbox.kinds import KINDS, Priority
from store.outbox.notices import Notice, enqueue_notice
from store.outbox.windows import CsWindows, InteractionKind, WindowQuotas
from tests.support import start_app_server

TEMPLATES: dict[str, Any] = {
    "paid": {
        "template_id": "TPL_PAID",
        "fields": {"order_no": "character_string2", "amount": "amount1", "paid_at": "time3", "goods": "thing4"},
    },
    "shipped": {
        "template_id": "TPL_SHIPPED",
        "url": "https://shop.example.com/orders",
        "fields": {"order_no": "character_string1", "carrier": "thing2", "tracking_no": "character_string3"},
    },
    "tier_change": {"template_id": "TPL_TIER", "fields": {"tier": "thing1", "changed_at": "time2"}},
    "birthday": {"template_id": "TPL_BIRTHDAY", "fields": {"member": "thing1", "date": "time2"}},
}

FIELDS: dict[str, dict[str, str]] = {
    "paid": {
        "order_no": "WX20261124001", "amount": "¥199.00", "goods": "红色连衣裙 M码", "paid_at": "2026-11-24 10:00",
    },
    "shipped": {
        "order_no": "WX20261124001", "carrier": "顺丰速运", "tracking_no": "SF1234567890",
        "shipped_at": "2026-11-24 12:00",
    },
    "tracking": {
        "order_no": "WX20261124001", "tracking_no": "SF1234567890", "state": "快件已到达杭州中转部",
        "updated_at": "2026-11-24 18:00",
    },
    "tier_change": {"tier": "VIP会员", "changed_at": "2026-11-24 10:00"},
    "birthday": {"member": "尊敬的会员", "date": "2026-11-24"},
    "gift_reminder": {"expires_at": "2026-11-25 10:00"},
}  # fmt: skip


def queue(openid: str, kind: str, now: Any, priority: Priority | None = None, **extra: str) -> int:
    return enqueue_notice(openid, kind, {**FIELDS[kind], **extra}, priority or KINDS[kind].priority, now)


@dataclass
class Rig:
    config: Config
    world: World
    state: MpState
    clock: ManualClock
    resources: Resources
    dispatcher: Dispatcher

    @property
    def windows(self) -> CsWindows:
        shop = self.config.shop
        quotas = WindowQuotas(shop.cs_quota_after_message, shop.cs_quota_after_click)
        return CsWindows(self.resources.redis, self.resources.key, quotas)

    def interact(self, openid: str, kind: InteractionKind) -> None:
        """What the inbound handlers do: WeChat opens a window and so does our record of it."""
        self.world.record_interaction(openid, kind)
        self.windows.record_interaction(openid, kind, self.clock.now())

    async def drain(self) -> DispatchStats:
        return await self.dispatcher.drain()

    def notice(self, notice_id: int) -> Notice:
        return Notice.get_by_id(notice_id)


def outbox_config(config: Config, templates: Mapping[str, Any] | None = None, **shop: Any) -> Config:
    return dataclasses.replace(
        config,
        templates=dict(TEMPLATES if templates is None else templates),
        shop=dataclasses.replace(config.shop, **shop),
    )


@asynccontextmanager
async def outbox_rig(
    config: Config,
    *,
    clock: ManualClock | None = None,
    settings: OutboxSettings | None = None,
    **mp_options: Any,
) -> AsyncIterator[Rig]:
    """`config` is used as given (see `outbox_config`); `mp_options` go to `create_mp_app`."""
    clock = clock or ManualClock()
    world = World(
        config.wechat.app_id,
        config.wechat.app_secret,
        clock,
        cs_quota_after_message=config.shop.cs_quota_after_message,
        cs_quota_after_click=config.shop.cs_quota_after_click,
    )
    mp_options.setdefault("template_daily_quota", config.shop.template_daily_quota)
    server = TestServer(create_mp_app(world, **mp_options), host="127.0.0.1")
    await start_app_server(server)
    base = str(server.make_url("")).rstrip("/")
    config = dataclasses.replace(config, wechat=dataclasses.replace(config.wechat, api_base_url=base))
    resources = open_resources(config, clock)
    settings = settings or OutboxSettings(batch_size=50, lanes=1, concurrency=20)
    sender, gateway = open_sender(config, resources, settings.connections)
    dispatcher = build_dispatcher(config, resources, sender, "test", settings)
    try:
        yield Rig(config, world, mp_state(server.app), clock, resources, dispatcher)
    finally:
        await close_sender(sender, gateway)
        await resources.aclose()
        await server.close()
