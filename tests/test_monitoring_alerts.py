"""Alerts on the shop's figures, driven as the worker drives them (the job functions on a ManualClock) against the
real app: payment success over its sliding window and the weekly complaint rate each alert operators once per
breach (an `ops_alert` in the outbox), stay quiet while the breach lasts, clear when the figure is back, and show
in the admin API's alerts list and in /metrics; too small a sample judges nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.process.config import Config, ConfigError, load
from scheduler.jobs import JobDeps
from scheduler.metrics_jobs import check_shop_metrics, watch_payments
from store.after_sales.tickets import DISPUTE, AfterSalesRules, open_ticket
from store.core.clock import SHANGHAI
from store.monitoring.alerts import FIGURES
from store.monitoring.figures import MetricRules
from store.monitoring.watch import MetricAlert
from store.orders.checkout import CartLine, Order, cancel_if_unpaid, create_order
from store.orders.payments import mark_paid
from store.outbox.notices import Notice
from tests.order_support import BUYER, HOME, RULES
from tests.pay_support import PayWorld, pay_world

OPERATORS = ("o_boss", "o_clerk")
ALERT_RULES = Path(__file__).resolve().parent.parent / "docs" / "alerts.yml"


def at(day: str, clock_time: str = "00:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock_time}").replace(tzinfo=SHANGHAI)


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        yield w


@pytest.fixture
def rules(migrated: Config) -> MetricRules:
    """From config as the worker builds them, with operators to tell."""
    return MetricRules.from_settings(dataclasses.replace(migrated.shop, operator_openids=OPERATORS))


def orders(sku: int, first: datetime, count: int, paid: int, every: timedelta = timedelta(minutes=1),
           cancel: bool = False) -> list[Order]:  # fmt: skip
    """`count` orders `every` apart from `first`, the first `paid` of them paid two minutes after ordering; with
    `cancel` the others time out."""
    placed = []
    for i in range(count):
        created = first + i * every
        order = create_order(BUYER, [CartLine(sku, 1)], HOME, [], 0, created, rules=RULES)
        if i < paid:
            mark_paid(order.order_no, f"TX{order.order_no}", order.payable_fen, created + timedelta(minutes=2),
                      rules=RULES.members)  # fmt: skip
        elif cancel:
            assert cancel_if_unpaid(order.order_no, order.expires_at, reason="timeout")
        placed.append(order)
    return placed


def ops_alerts() -> list[tuple[str, str, str]]:
    rows = Notice.select().where(Notice.kind == "ops_alert").order_by(Notice.id)
    return [(n.openid, json.loads(n.fields)["subject"], json.loads(n.fields)["ref"]) for n in rows]


async def watch(world: PayWorld, rules: MetricRules) -> dict:
    return await watch_payments({"deps": JobDeps(clock=world.clock, worker_name="test", metrics=rules)})


async def daily(world: PayWorld, rules: MetricRules) -> dict:
    return await check_shop_metrics({"deps": JobDeps(clock=world.clock, worker_name="test", metrics=rules)})


async def listed_alerts(world: PayWorld) -> list[dict]:
    status, body = await world.admin("GET", "/admin/api/metrics")
    assert status == 200, body
    return body["alerts"]


async def scraped(world: PayWorld) -> dict[str, float]:
    async with world.session.get(f"{world.shop_url}/metrics") as response:
        text = await response.text()
    return {m[1]: float(m[2]) for m in re.finditer(r"^(wxshop_shop_\w+\{[^}]*\}) (\S+)$", text, re.M)}


async def test_payment_success_alerts_once_per_breach_and_clears(world: PayWorld, rules: MetricRules) -> None:
    assert (rules.payment_success_threshold, rules.payment_window, rules.payment_grace, rules.payment_min_orders) == (
        0.9, timedelta(minutes=60), timedelta(minutes=10), 20)  # fmt: skip
    tee = world.shop.tee
    orders(tee, at("2026-11-24", "10:00:00"), 19, paid=14)
    world.clock.set(at("2026-11-24", "10:40:00"))  # window: orders created 09:40 ..< 10:30
    first = await watch(world, rules)
    assert (first["orders"], first["rate"], first["change"], ops_alerts()) == (19, 0.7368, "unchanged", []), \
        "19 orders are too few to judge"  # fmt: skip
    orders(tee, at("2026-11-24", "10:25:00"), 1, paid=0)  # the 20th, unpaid after 15 minutes
    orders(tee, at("2026-11-24", "10:35:00"), 5, paid=0)  # younger than the grace period: not counted yet
    raised = await watch(world, rules)
    assert (raised["orders"], raised["rate"], raised["alert"], raised["change"]) == (20, 0.7, True, "raised")
    told = [(op, "支付成功率70%低于90%", "2026-11-24T10:40") for op in OPERATORS]
    assert ops_alerts() == told

    world.clock.advance(minutes=1)
    racing = await asyncio.gather(watch(world, rules), watch(world, rules))
    assert sorted(r["change"] for r in racing) == ["kept", "kept"] and ops_alerts() == told, "told once"
    [alert] = await listed_alerts(world)
    assert (alert["figure"], alert["firing"], alert["subject"], alert["notified"]) == (
        "payment_success", True, "支付成功率70%低于90%", 2)  # fmt: skip
    assert alert["raised_at"] == "2026-11-24T10:40:00+08:00" and alert["cleared_at"] is None
    metrics = await scraped(world)
    assert metrics['wxshop_shop_alert_firing{figure="payment_success"}'] == 1.0
    assert metrics['wxshop_shop_figure_threshold{bound="min",figure="payment_success"}'] == 0.9
    assert metrics['wxshop_shop_figure_sample{figure="payment_success"}'] == 20.0

    orders(tee, at("2026-11-24", "11:00:00"), 30, paid=30)  # payments work again
    world.clock.set(at("2026-11-24", "11:45:00"))  # window 10:45 ..< 11:35: the 30 paid ones
    cleared = await watch(world, rules)
    assert (cleared["rate"], cleared["alert"], cleared["change"]) == (1.0, False, "cleared")
    assert (await watch(world, rules))["change"] == "unchanged"
    [alert] = await listed_alerts(world)
    assert (alert["firing"], alert["cleared_at"], alert["value"]) == (False, "2026-11-24T11:45:00+08:00", 0.7)
    metrics = await scraped(world)
    assert metrics['wxshop_shop_alert_firing{figure="payment_success"}'] == 0.0
    assert metrics['wxshop_shop_figure{figure="payment_success"}'] == 1.0

    orders(tee, at("2026-11-24", "12:00:00"), 25, paid=10)  # a second breach: told again, as a new alert
    world.clock.set(at("2026-11-24", "12:40:00"))
    assert (await watch(world, rules))["change"] == "raised"
    assert ops_alerts()[2:] == [(op, "支付成功率40%低于90%", "2026-11-24T12:40") for op in OPERATORS]
    listed = await listed_alerts(world)
    assert [(a["firing"], a["window"]) for a in listed] == [(True, "2026-11-24T12:40"), (False, "2026-11-24T10:40")]
    assert MetricAlert.select().count() == 2


async def test_the_weekly_complaint_rate_alerts_and_clears(world: PayWorld, rules: MetricRules) -> None:
    assert (rules.complaint_threshold, rules.complaint_min_orders) == (0.02, 20)
    paid = orders(world.shop.tee, at("2026-11-18", "12:00:00"), 19, paid=19, every=timedelta(hours=6))
    open_ticket(BUYER, paid[0].order_no, DISPUTE, "客服态度差", [], at("2026-11-20", "09:00:00"), AfterSalesRules())
    world.clock.set(at("2026-11-24", "00:45:00"))  # the 7 days 11-17 ..< 11-24
    check = await daily(world, rules)
    assert check["complaints"] == {"rate": 0.0526, "paid_orders": 19, "threshold": 0.02, "alert": False}, \
        "19 paid orders are too few to judge"  # fmt: skip
    orders(world.shop.tee, at("2026-11-23", "20:00:00"), 1, paid=1)
    check = await daily(world, rules)
    assert (check["complaints"]["rate"], check["alerts"], check["raised"]) == (0.05, ["complaints"], ["complaints"])
    assert ops_alerts() == [(op, "投诉率5%超过2%", "2026-11-23") for op in OPERATORS]
    world.clock.set(at("2026-11-24", "01:45:00"))  # the hourly catch-up
    assert (await daily(world, rules))["raised"] == [] and len(ops_alerts()) == 2
    world.clock.set(at("2026-11-25", "00:45:00"))  # still 1 of 20 in 11-18 ..< 11-25: the same breach
    assert (await daily(world, rules))["alerts"] == ["complaints"] and len(ops_alerts()) == 2

    orders(world.shop.tee, at("2026-11-25", "09:00:00"), 60, paid=60, every=timedelta(minutes=15))
    world.clock.set(at("2026-11-26", "00:45:00"))  # 11-19 ..< 11-26: 1 complaint, 17 + 1 + 60 paid orders
    check = await daily(world, rules)
    assert (check["complaints"]["rate"], check["complaints"]["paid_orders"], check["alerts"]) == (0.0128, 78, [])
    [alert] = [a for a in await listed_alerts(world) if a["figure"] == "complaints"]
    assert (alert["firing"], alert["cleared_at"], alert["notified"]) == (False, "2026-11-26T00:45:00+08:00", 2)
    assert (await scraped(world))['wxshop_shop_alert_firing{figure="complaints"}'] == 0.0


async def test_a_cancellation_breach_spanning_two_days_is_one_alert(world: PayWorld, rules: MetricRules) -> None:
    for day in ("2026-11-24", "2026-11-25"):
        orders(world.shop.tee, at(day, "10:00:00"), 10, paid=8, cancel=True)  # 2 of 10 time out: 20 % > 8 %
    world.clock.set(at("2026-11-25", "00:45:00"))
    assert (await daily(world, rules))["raised"] == ["cancellation"]
    world.clock.set(at("2026-11-26", "00:45:00"))
    again = await daily(world, rules)
    assert (again["alerts"], again["raised"]) == (["cancellation"], [])
    assert [a[1:] for a in ops_alerts()] == [("订单取消率20%超过8%", "2026-11-24")] * 2
    orders(world.shop.tee, at("2026-11-26", "10:00:00"), 10, paid=10)
    world.clock.set(at("2026-11-27", "00:45:00"))
    assert (await daily(world, rules))["alerts"] == []
    [alert] = await listed_alerts(world)
    assert (alert["figure"], alert["firing"], alert["window"]) == ("cancellation", False, "2026-11-24")


def test_the_thresholds_come_from_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text("[shop]\npayment_success_alert_rate = 0.95\ncomplaint_alert_rate = 0.01\n", encoding="utf-8")
    rules = MetricRules.from_settings(load(path, env={}).shop)
    assert (rules.payment_success_threshold, rules.complaint_threshold) == (0.95, 0.01)
    env = {"WXSHOP_SHOP__PAYMENT_SUCCESS_GRACE_MINUTES": "60"}
    with pytest.raises(ConfigError, match="payment_success_grace_minutes: expected less than"):
        load(path, env=env)


async def test_the_alert_rules_file_names_what_metrics_exports(world: PayWorld, rules: MetricRules) -> None:
    orders(world.shop.tee, at("2026-11-24", "10:00:00"), 20, paid=20)
    world.clock.set(at("2026-11-24", "10:40:00"))
    await watch(world, rules)
    await daily(world, rules)
    async with world.session.get(f"{world.shop_url}/metrics") as response:
        exported = set(re.findall(r"^(wxshop_\w+)\{", await response.text(), re.M))
    groups = yaml.safe_load(ALERT_RULES.read_text(encoding="utf-8"))["groups"]
    rules_seen = [rule for group in groups for rule in group["rules"]]
    assert len(rules_seen) == 6 and all({"alert", "expr", "labels", "annotations"} <= set(r) for r in rules_seen)
    for rule in rules_seen:
        names = set(re.findall(r"wxshop_\w+", rule["expr"]))
        assert names and names <= exported, (rule["alert"], names - exported)
        assert set(re.findall(r'figure="(\w+)"', rule["expr"])) <= set(FIGURES), rule["expr"]
    firing = {r["expr"].split('"')[1] for r in rules_seen if "alert_firing" in r["expr"]}
    assert firing == set(FIGURES), "every watched figure has its rule"
