"""Order jobs run directly with a ctx dict and a ManualClock: timeouts ask WeChat Pay before cancelling, race a
payment correctly, and the minute sweep is an idempotent safety net."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq.constants import job_key_prefix

from bot.features import cron_entries, job_functions
from bot.jobs import queue as job_queue
from bot.jobs.queue import JOBS, cancel_scheduler
from bot.pay.client import WeChatPayClient
from bot.process.config import Config
from bot.sandbox.ports import free_port
from bot.web.runtime import RESOURCES
from scheduler.order_jobs import (
    cancel_expired_orders,
    cancel_unpaid,
    refund_payment,
    sync_refunds,
)
from store.catalog.inventory import stock_of
from store.orders.checkout import CANCELLED, PAID, UNPAID, CartLine, Order, create_order
from store.orders.payments import Payment, Refund
from tests.order_support import BUYER, HOME, RULES
from tests.pay_support import PayWorld, pay_world


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        w.sandbox.world.follow(BUYER)
        yield w


@pytest.fixture
def ctx(world: PayWorld) -> dict[str, Any]:
    return {"deps": world.deps()}


def new_order(w: PayWorld, quantity: int = 2) -> Order:
    return create_order(BUYER, [CartLine(w.shop.dress, quantity)], HOME, [], 0, w.clock.now(), rules=RULES)


def status(order: Order) -> str:
    return Order.get_by_id(order.id).status


def test_jobs_are_registered(config: Config) -> None:
    names = {f.__name__ for f in job_functions()}
    assert {"cancel_unpaid", "cancel_expired_orders", "refund_payment", "sync_refunds"} <= names
    crons = {c.name for c in cron_entries(config)}
    assert {"order-timeouts", "refund-sync"} <= crons


async def test_timeout_of_an_order_never_opened_at_wechat(world: PayWorld, ctx: dict[str, Any]) -> None:
    order = new_order(world)
    assert await cancel_unpaid(ctx, order.order_no) == "not_due"
    world.clock.advance(minutes=30)
    assert await cancel_unpaid(ctx, order.order_no) == "cancelled"
    assert await cancel_unpaid(ctx, order.order_no) == "not_unpaid", "a second run changes nothing"
    assert status(order) == CANCELLED and stock_of(world.shop.dress) == 10


async def test_timeout_closes_the_wechat_order_so_it_cannot_be_paid_after(world: PayWorld, ctx: dict) -> None:
    order = new_order(world)
    params = await world.pay_params(order.order_no, BUYER)  # the buyer opened the page but did not pay
    world.clock.advance(minutes=30)
    assert await cancel_unpaid(ctx, order.order_no) == "cancelled"
    assert world.sandbox.pay.order(order.order_no).state == "CLOSED"
    answer = await world.confirm(params, BUYER)
    assert answer["err_msg"] == "get_brand_wcpay_request:fail" and "关闭" in answer["err_desc"]
    assert stock_of(world.shop.dress) == 10


async def test_timeout_finds_a_payment_whose_notice_is_late_and_keeps_the_order(world: PayWorld, ctx: dict) -> None:
    order = new_order(world)
    params = await world.pay_params(order.order_no, BUYER)
    world.clock.advance(minutes=29, seconds=59)
    assert (await world.confirm(params, BUYER))["err_msg"] == "get_brand_wcpay_request:ok"
    world.clock.advance(seconds=2)  # the deadline passes before the notice is delivered
    assert await cancel_unpaid(ctx, order.order_no) == "paid"
    assert status(order) == PAID and stock_of(world.shop.dress) == 8
    attempts = await world.sandbox.pay.deliver_due()  # the notice arrives afterwards: a duplicate
    assert len(attempts) == 1 and "SUCCESS" in attempts[0].reply
    assert Payment.select().count() == 1 and Refund.select().count() == 0


async def test_timeout_with_wechat_unreachable_cancels_and_a_late_payment_is_refunded(
    world: PayWorld, ctx: dict
) -> None:
    order = new_order(world)
    params = await world.pay_params(order.order_no, BUYER)
    assert (await world.confirm(params, BUYER))["err_msg"] == "get_brand_wcpay_request:ok"
    world.clock.advance(minutes=31)
    dead = dataclasses.replace(world.config, pay=dataclasses.replace(
        world.config.pay, api_base_url=f"http://127.0.0.1:{free_port()}"))  # fmt: skip
    offline = {"deps": dataclasses.replace(ctx["deps"], pay=WeChatPayClient(dead))}
    assert await cancel_unpaid(offline, order.order_no) == "cancelled"
    assert status(order) == CANCELLED and stock_of(world.shop.dress) == 10

    attempts = await world.sandbox.pay.deliver_due()
    assert "SUCCESS" in attempts[0].reply
    refund = Refund.get(Refund.order_no == order.order_no)
    assert await refund_payment(ctx, refund.refund_no) == "succeeded"
    assert await refund_payment(ctx, refund.refund_no) == "succeeded", "idempotent"
    pay_order = world.sandbox.pay.order(order.order_no)
    assert pay_order.refunded_fee == order.payable_fen and len(pay_order.refunds) == 1
    assert status(order) == CANCELLED and stock_of(world.shop.dress) == 10, "no restock: the cancel did it"


async def test_the_sweep_cancels_every_expired_order_once(world: PayWorld, ctx: dict[str, Any]) -> None:
    orders = [new_order(world, 1) for _ in range(3)]
    world.clock.advance(minutes=10)
    late = new_order(world, 1)
    world.clock.advance(minutes=21)
    assert await cancel_expired_orders(ctx) == 3
    assert await cancel_expired_orders(ctx) == 0
    assert [status(o) for o in orders] == [CANCELLED] * 3 and status(late) == UNPAID
    assert stock_of(world.shop.dress) == 9
    world.clock.advance(minutes=10)
    assert await cancel_expired_orders(ctx) == 1


async def test_sweep_and_deferred_job_racing_cancel_once(world: PayWorld, ctx: dict[str, Any]) -> None:
    order = new_order(world, 3)
    world.clock.advance(minutes=30)
    results = await asyncio.gather(cancel_unpaid(ctx, order.order_no), cancel_unpaid(ctx, order.order_no),
                                   cancel_expired_orders(ctx))  # fmt: skip
    assert [results[0], results[1]].count("cancelled") + results[2] == 1, results
    assert stock_of(world.shop.dress) == 10


async def test_refund_sweep_settles_refunds_wechat_was_still_processing(migrated: Config) -> None:
    async with pay_world(migrated, refund_delay_s=120) as w:
        w.sandbox.world.follow(BUYER)
        deps = w.deps()
        order = new_order(w)
        params = await w.pay_params(order.order_no, BUYER)
        await w.confirm(params, BUYER)
        await w.sandbox.pay.deliver_due()
        status_code, refund = await w.admin("POST", f"/admin/api/orders/{order.order_no}/refund",
                                            json={"reason": "不想要了"})  # fmt: skip
        assert status_code == 201 and refund["status"] == "submitted"
        assert await sync_refunds({"deps": deps}) == 0
        w.clock.advance(minutes=3)
        assert await sync_refunds({"deps": deps}) == 1
        assert Refund.get(Refund.refund_no == refund["refund_no"]).status == "succeeded"
        assert status(order) == "refunded" and stock_of(w.shop.dress) == 10


async def test_the_chat_flow_schedules_the_timeout_by_id_at_the_deadline(world: PayWorld) -> None:
    """`JobQueue.schedule_cancel` from a handler thread: one arq job `cancel:{order_no}` due at `expires_at`,
    and asking twice queues nothing more."""
    order = new_order(world)
    jobs = world.app[JOBS]
    assert await asyncio.to_thread(jobs.schedule_cancel, order.order_no, order.expires_at)
    assert not await asyncio.to_thread(jobs.schedule_cancel, order.order_no, order.expires_at)
    resources = world.app[RESOURCES]
    score = await resources.aredis.zscore(resources.queue_name, f"cancel:{order.order_no}")
    wait_ms = (order.expires_at - world.clock.now()).total_seconds() * 1000  # due then, by arq's wall clock
    assert abs(score - (time.time() * 1000 + wait_ms)) < 10_000

    other = new_order(world, 1)
    await asyncio.to_thread(cancel_scheduler(world.app), other.order_no, other.expires_at)  # the flow's hook
    assert await resources.aredis.zscore(resources.queue_name, f"cancel:{other.order_no}") is not None
    assert world.app[JOBS].enqueue_from_thread("beat", "on-the-loop", _job_id=f"loop:{other.order_no}")
    await asyncio.gather(*job_queue._background)  # called on the loop's thread: queued as a task, not waited for
    assert await resources.aredis.zscore(resources.queue_name, f"loop:{other.order_no}") is not None


async def test_a_job_due_long_ago_is_still_queued(world: PayWorld) -> None:
    """An order whose timeout passed days ago (the shop was down) is still queued, due at once: arq's default
    expiry would be negative there, and a Redis server refuses that."""
    resources = world.app[RESOURCES]
    long_ago = world.clock.now() - timedelta(days=3)
    job_id = f"late:{uuid.uuid4().hex}"
    before_ms = time.time() * 1000
    assert await world.app[JOBS].enqueue("cancel_unpaid", "NO-SUCH-ORDER", _job_id=job_id, _defer_until=long_ago)
    due_ms = await resources.aredis.zscore(resources.queue_name, job_id)
    assert before_ms - 1 <= due_ms <= time.time() * 1000 + 1, "due now by the wall clock arq reads"
    ttl_ms = await resources.aredis.pttl(job_key_prefix + job_id)
    assert timedelta(hours=23) < timedelta(milliseconds=ttl_ms) <= timedelta(days=1)


async def test_a_deferred_job_falls_due_after_the_same_interval_whatever_date_the_clock_shows(
    world: PayWorld,
) -> None:
    """The business clock (a test's, a demo's) and the wall clock arq reads may show different dates: a job
    deferred 30 minutes by the one is due 30 minutes later by the other."""
    resources = world.app[RESOURCES]
    job_id = f"later:{uuid.uuid4().hex}"
    before_ms = time.time() * 1000
    due = world.clock.now() + timedelta(minutes=30)
    assert await world.app[JOBS].enqueue("cancel_unpaid", "NO-SUCH-ORDER", _job_id=job_id, _defer_until=due)
    due_ms = await resources.aredis.zscore(resources.queue_name, job_id)
    assert before_ms + 30 * 60_000 - 1 <= due_ms <= time.time() * 1000 + 30 * 60_000 + 1


def test_timing_turns_a_business_due_time_into_a_delay() -> None:
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    timed = job_queue.wall_timing({"_job_id": "x", "_defer_until": now + timedelta(minutes=30)}, now)
    assert timed == {"_job_id": "x", "_defer_by": timedelta(minutes=30), "_expires": timedelta(days=1, minutes=30)}
    late = job_queue.wall_timing({"_defer_until": now - timedelta(days=3)}, now)
    assert late == {"_defer_by": timedelta(0), "_expires": timedelta(days=1)}
    assert job_queue.wall_timing({"_job_id": "y"}, now) == {"_job_id": "y"}
