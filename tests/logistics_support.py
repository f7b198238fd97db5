"""Paid orders to ship, notices to look at, and the shop app with the whole sandbox around it, for the shipping,
tracking and after-sales tests (on top of tests.order_support's shop and tests.pay_support's world)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.logistics.client import NOTIFY_PATH, Kuaidi100Client
from bot.process.config import Config
from bot.sandbox.follower import FollowerSimulator
from bot.sandbox.server import Sandbox
from bot.sandbox.tracking import TrackingEmulator
from bot.web.runtime import RESOURCES
from scheduler.logistics_jobs import subscribe_parcels
from store.after_sales.tickets import AfterSalesRules
from store.core.clock import ManualClock
from store.logistics.parcel_alerts import LogisticsRules
from store.logistics.shipments import Shipment
from store.orders.checkout import CartLine, Order, create_order
from store.orders.payments import mark_paid
from store.outbox.notices import Notice
from store.outbox.windows import CsWindows
from tests.gateway_support import account_for
from tests.order_support import HOME, RULES, START, Shop
from tests.pay_support import PayWorld, pay_world

_paid = 0


def paid_order(shop: Shop, openid: str, *, virtual: bool = False, now: datetime = START, quantity: int = 1) -> Order:
    """A paid order of one dress (or, `virtual`, one gift card) for `openid`."""
    global _paid
    _paid += 1
    sku = shop.card if virtual else shop.dress
    order = create_order(openid, [CartLine(sku, quantity)], None if virtual else HOME, [], 0, now, rules=RULES)
    mark_paid(order.order_no, f"42000{_paid:010d}", order.payable_fen, now, rules=RULES.members)
    return Order.get(Order.order_no == order.order_no)


def notices(openid: str, kind: str | None = None) -> list[Notice]:
    query = Notice.select().where(Notice.openid == openid)
    if kind is not None:
        query = query.where(Notice.kind == kind)
    return list(query.order_by(Notice.id))


def fields(notice: Notice) -> dict[str, str]:
    return json.loads(notice.fields)


def shipment(order_no: str) -> Shipment:
    return Shipment.get(Shipment.order_no == order_no)


# ---- the shop app and the sandbox (MP API, Pay, tracking) on loopback ports, for HTTP-level tests ----------------

CUSTOMER = "SANDBOXCUSTOMER0001"
OPERATOR = "o_operator_0001"


@dataclass
class ServiceWorld:
    """`tests.pay_support.PayWorld` plus what shipping, tracking and after-sales need around it."""

    pay: PayWorld

    @property
    def clock(self) -> ManualClock:
        return self.pay.clock

    @property
    def shop(self) -> Shop:
        return self.pay.shop

    @property
    def tracker(self) -> TrackingEmulator:
        return self.pay.sandbox.tracking

    @property
    def rules(self) -> LogisticsRules:
        config = self.pay.config
        return LogisticsRules.from_settings(config.logistics, config.shop)

    @property
    def after_sales(self) -> AfterSalesRules:
        config = self.pay.config
        return AfterSalesRules.from_settings(config.after_sales, config.shop)

    def client(self) -> Kuaidi100Client:
        """The real client, pointed at the sandbox, calling back to this shop's /logistics/notify."""
        logistics = self.pay.config.logistics
        return Kuaidi100Client(base_url=self.pay.sandbox_url, key=logistics.key, customer=logistics.customer,
                               salt=logistics.salt, callback_url=f"{self.pay.shop_url}{NOTIFY_PATH}")  # fmt: skip

    def ctx(self, **overrides: Any) -> dict[str, Any]:
        """An arq-style ctx for calling job functions directly, with the worker's dependencies."""
        deps = self.pay.deps(tracking=self.client(), logistics=self.rules, after_sales=self.after_sales, **overrides)
        return {"deps": deps}

    def follower(self) -> FollowerSimulator:
        config = self.pay.config
        url = f"{self.pay.shop_url}{config.server.wechat_path}"
        return FollowerSimulator(url, account_for(config, "plain"), self.pay.session, self.clock,
                                 world=self.pay.sandbox.world)  # fmt: skip

    async def admin(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.pay.admin(method, path, **kwargs)

    async def ship(self, order_no: str, carrier: str = "yuantong", number: str = "YT1234567890") -> dict[str, Any]:
        """Ship through the admin API, then run the subscription job (as the worker would)."""
        status, body = await self.admin("POST", f"/admin/api/orders/{order_no}/ship",
                                        json={"carrier": carrier, "tracking_no": number})  # fmt: skip
        assert status == 201, body
        assert await subscribe_parcels(self.ctx()) == 1
        return body

    def open_window(self, openid: str) -> None:
        """The buyer follows and has paid: WeChat (the sandbox) and our window record both allow service messages."""
        resources = self.pay.app[RESOURCES]
        self.pay.sandbox.world.follow(openid)
        self.pay.sandbox.world.record_interaction(openid, "payment")
        CsWindows(resources.redis, resources.key).record_interaction(openid, "payment", self.clock.now())

    async def deliver_notices(self) -> None:
        """Run the outbox dispatcher once over everything due (what the worker does continuously)."""
        await self.pay.deliver_notices()

    def delivered_texts(self, openid: str) -> list[str]:
        """The customer-service texts the follower has seen, oldest first."""
        return [d.payload["text"]["content"] for d in self.pay.sandbox.world.delivered(openid)
                if d.kind == "custom" and d.payload.get("msgtype") == "text"]  # fmt: skip

    async def notify(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        async with self.pay.session.post(f"{self.pay.shop_url}{NOTIFY_PATH}", data=form) as response:
            return response.status, await response.json(content_type=None)


@asynccontextmanager
async def service_world(config: Config, **logistics: Any) -> AsyncIterator[ServiceWorld]:
    config = dataclasses.replace(
        config,
        logistics=dataclasses.replace(config.logistics, customer=CUSTOMER, **logistics),
        shop=dataclasses.replace(config.shop, operator_openids=(OPERATOR,)),
    )

    def before_start(app: web.Application, sandbox: Sandbox) -> None:
        sandbox.tracking.customer = CUSTOMER

    async with pay_world(config, before_start=before_start) as world:
        yield ServiceWorld(world)
