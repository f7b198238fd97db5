"""One sandbox server for the demo and for previews: the MP API, WeChat Pay v2 and express tracking emulators on
one aiohttp app (their paths do not overlap), sharing one `World`, configured from the shop's own config so the
shop's real clients reach it unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlparse

from aiohttp import web

from bot.process.config import Config
from bot.sandbox.mp_api import create_mp_app
from bot.sandbox.pay import PayEmulator, setup_pay
from bot.sandbox.tracking import TrackingEmulator, setup_tracking
from bot.sandbox.world import World
from store.core.clock import Clock


@dataclass
class Sandbox:
    """The emulated WeChat: its state and the app serving it."""

    world: World
    pay: PayEmulator
    tracking: TrackingEmulator
    app: web.Application
    host: str
    port: int


def build_sandbox(config: Config, clock: Clock, *, demo: bool = True) -> Sandbox:
    """Emulators for the account in `config`; `demo` turns on background payment notices and parcel walks."""
    shop = config.shop
    world = World(
        config.wechat.app_id,
        config.wechat.app_secret,
        clock,
        cs_quota_after_message=shop.cs_quota_after_message,
        cs_quota_after_click=shop.cs_quota_after_click,
    )
    app = create_mp_app(
        world,
        callback_url=config.server.public_url.rstrip("/") + config.server.wechat_path,
        token=config.wechat.token,
        encoding_aes_key=config.wechat.encoding_aes_key,
        original_id=config.wechat.original_id,
        template_daily_quota=shop.template_daily_quota,
    )
    pay = PayEmulator(
        appid=config.wechat.app_id,
        mch_id=config.pay.mch_id,
        api_key=config.pay.api_key,
        clock=clock,
        on_paid=lambda openid, at: world.record_interaction(openid, "payment", at),
        auto_deliver=demo,
    )
    setup_pay(app, pay)
    tracking = TrackingEmulator(
        key=config.logistics.key, clock=clock, auto_walk=timedelta(minutes=2) if demo else None
    )
    setup_tracking(app, tracking)
    return Sandbox(world, pay, tracking, app, *sandbox_address(config))


def sandbox_address(config: Config) -> tuple[str, int]:
    """Where the emulators listen: the host and port of `[wechat] api_base_url`."""
    url = urlparse(config.wechat.api_base_url)
    return url.hostname or "127.0.0.1", url.port or 80
