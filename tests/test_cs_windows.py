"""Every customer-service message counts against the follower's window, whoever sends it: late replies and
follow-ups (the gateway, `bot.wechat.customer_service`) take from the same record as the outbox, so together they never
send one WeChat would refuse. Driven end to end: signed XML to the shop's gateway, the outbox dispatcher and a
pay notice, against the sandbox's MP API, which enforces the windows (45047/45015) and keeps every refusal."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from werobot.messages.messages import WeChatMessage

from bot.process.config import Config
from bot.sandbox.follower import FollowerSimulator
from bot.wechat.gateway import INBOUND, LATE_TASKS
from dialogs.replies import Answer
from store.orders.checkout import CartLine, create_order
from store.outbox.notices import CUSTOM, DROPPED, TEMPLATE, Notice
from tests.gateway_support import account_for, with_mode
from tests.order_support import BUYER, HOME, RULES
from tests.outbox_support import outbox_config, queue
from tests.pay_support import PayWorld, pay_world

FAN = "o_fan_0001"


class HeldReply:
    """A handler that answers only once released: its reply misses the deadline and goes late."""

    def __init__(self, reply: str, followups: int = 0) -> None:
        self.answer = Answer(reply, tuple({"type": "text", "content": f"补充{i + 1}"} for i in range(followups)))
        self.release = threading.Event()

    def __call__(self, message: WeChatMessage) -> Answer:
        self.release.wait(10)
        return self.answer


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(outbox_config(with_mode(migrated, "plain", reply_deadline_ms=200))) as w:
        w.sandbox.world.follow(FAN)
        w.sandbox.world.follow(BUYER)
        w.clock.advance(minutes=2)  # the follows' one-minute windows are over
        yield w


def follower(w: PayWorld) -> FollowerSimulator:
    url = f"{w.shop_url}{w.config.server.wechat_path}"
    return FollowerSimulator(url, account_for(w.config, "plain"), w.session, w.clock, world=w.sandbox.world)


def handle_text(w: PayWorld, handler: object) -> None:
    w.app[INBOUND].robot._handlers["text"].insert(0, (handler, 1))


async def late_reply(w: PayWorld, openid: str, held: HeldReply, text: str = "在吗") -> None:
    """The follower writes; the reply misses the deadline, is released and goes as customer-service messages."""
    delivery = await follower(w).send_text(openid, text)
    assert delivery.attempts[0].body == "" and not delivery.failed, "answered empty before the deadline"
    held.release.set()
    await asyncio.gather(*w.app[LATE_TASKS])


def texts(w: PayWorld, openid: str) -> list[str]:
    return [d.payload["text"]["content"] for d in w.sandbox.world.delivered(openid) if d.kind == "custom"]


def counted(purpose: str, outcome: str) -> float:
    labels = {"purpose": purpose, "outcome": outcome}
    return REGISTRY.get_sample_value("wxshop_customer_service_messages_total", labels) or 0.0


async def test_a_late_reply_takes_one_of_the_five(world: PayWorld) -> None:
    held = HeldReply("迟到的回复")
    handle_text(world, held)
    await late_reply(world, FAN, held)
    assert texts(world, FAN) == ["迟到的回复"]

    ids = [queue(FAN, "shipped", world.clock.now()) for _ in range(5)]
    await world.deliver_notices()
    assert [Notice.get_by_id(i).channel for i in ids].count(CUSTOM) == 4, "the late reply took one of the five"
    assert [Notice.get_by_id(i).channel for i in ids].count(TEMPLATE) == 1
    assert world.sandbox.world.refused() == []


async def test_a_late_reply_and_its_follow_ups_stop_at_the_window(world: PayWorld) -> None:
    held = HeldReply("迟到的回复", followups=6)
    handle_text(world, held)
    dropped = counted("late_reply", "dropped_used_up")
    await late_reply(world, FAN, held)
    assert texts(world, FAN) == ["迟到的回复", "补充1", "补充2", "补充3", "补充4"], "five, in order"
    assert counted("late_reply", "dropped_used_up") == dropped + 2
    assert world.sandbox.world.refused() == []


async def test_the_outbox_and_a_late_reply_share_the_five_and_nothing_is_refused(world: PayWorld) -> None:
    """The handler is slow; meanwhile the outbox spends the window the follower's message opened. The late reply
    finds it used up and is dropped (a reply is no service notice: no template may carry it), and later notices
    go as template messages or are dropped — nothing goes for WeChat to refuse."""
    held = HeldReply("迟到的回复")
    handle_text(world, held)
    delivery = await follower(world).send_text(FAN, "在吗")
    assert delivery.attempts[0].body == ""
    early = [queue(FAN, "shipped", world.clock.now()) for _ in range(5)]
    await world.deliver_notices()
    assert [Notice.get_by_id(i).channel for i in early] == [CUSTOM] * 5

    dropped = counted("late_reply", "dropped_used_up")
    held.release.set()
    await asyncio.gather(*world.app[LATE_TASKS])
    assert "迟到的回复" not in texts(world, FAN)
    assert counted("late_reply", "dropped_used_up") == dropped + 1

    service, care = queue(FAN, "tier_change", world.clock.now()), queue(FAN, "gift_reminder", world.clock.now())
    await world.deliver_notices()
    assert Notice.get_by_id(service).channel == TEMPLATE
    assert Notice.get_by_id(care).status == DROPPED
    assert len(texts(world, FAN)) == 5
    assert world.sandbox.world.refused() == []


async def test_follow_ups_after_an_on_time_reply_take_from_the_window(world: PayWorld) -> None:
    handle_text(world, lambda message: Answer("马上回复", ({"type": "text", "content": "补充说明"},) * 3))
    delivery = await follower(world).send_text(FAN, "在吗")
    assert delivery.shown == "马上回复", "the passive reply takes nothing"
    await asyncio.gather(*world.app[LATE_TASKS])
    assert texts(world, FAN) == ["补充说明"] * 3

    ids = [queue(FAN, "shipped", world.clock.now()) for _ in range(3)]
    await world.deliver_notices()
    assert [Notice.get_by_id(i).channel for i in ids].count(CUSTOM) == 2
    assert world.sandbox.world.refused() == []


async def test_a_payment_opens_the_unlimited_window(world: PayWorld) -> None:
    order = create_order(BUYER, [CartLine(world.shop.dress, 1)], HOME, [], 0, world.clock.now(), rules=RULES)
    params = await world.pay_params(order.order_no, BUYER)
    assert (await world.confirm(params, BUYER))["err_msg"] == "get_brand_wcpay_request:ok"
    await world.sandbox.pay.deliver_due()  # the pay notice: the payment and its window

    held = HeldReply("迟到的回复", followups=7)
    handle_text(world, held)
    await late_reply(world, BUYER, held)
    ids = [queue(BUYER, "shipped", world.clock.now()) for _ in range(6)]
    await world.deliver_notices()
    assert [Notice.get_by_id(i).channel for i in ids] == [CUSTOM] * 6
    sent = texts(world, BUYER)
    assert len(sent) == 8 + 6 + 1, "the late reply, its follow-ups, the notices and the paid notice all went"
    assert sum(order.order_no in text and text.startswith("支付成功") for text in sent) == 1
    assert world.sandbox.world.refused() == []
