"""The daily check of the shop's figures, run as the worker runs it: yesterday's cancellation rate and the average
order value against their bounds; operators alerted once per day and figure however often it runs."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from arq.cron import CronJob

from bot.features import cron_entries, job_functions
from bot.process.config import Config
from scheduler.jobs import JobDeps
from scheduler.metrics_jobs import check_shop_metrics
from store.core.clock import SHANGHAI, ManualClock
from store.core.db import close_database, open_database
from store.monitoring.figures import MetricRules
from store.orders.checkout import CartLine, Order, cancel_if_unpaid, create_order
from store.orders.payments import mark_paid
from store.outbox.notices import Notice
from tests.order_support import BUYER, HOME, RULES, Shop, make_shop

OPERATORS = ("o_boss", "o_clerk")


def at(day: str, clock_time: str = "00:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock_time}").replace(tzinfo=SHANGHAI)


@pytest.fixture
def shop(migrated: Config) -> Iterator[Shop]:
    open_database(migrated.database.url, migrated.var_dir)
    yield make_shop()
    close_database()


@pytest.fixture
def rules(migrated: Config) -> MetricRules:
    """Built from config as the worker builds it, with operators to alert."""
    return MetricRules.from_settings(dataclasses.replace(migrated.shop, operator_openids=OPERATORS))


def place(sku: int, created: datetime) -> Order:
    return create_order(BUYER, [CartLine(sku, 1)], HOME, [], 0, created, rules=RULES)


def pay(sku: int, when: datetime) -> Order:
    placed = place(sku, when - timedelta(minutes=1))
    mark_paid(placed.order_no, f"TX{placed.order_no}", placed.payable_fen, when, rules=RULES.members)
    return placed


async def run_check(clock: ManualClock, rules: MetricRules) -> dict:
    return await check_shop_metrics({"deps": JobDeps(clock=clock, worker_name="test", metrics=rules)})


def alerts() -> list[tuple[str, str, str, str]]:
    rows = Notice.select().where(Notice.kind == "ops_alert").order_by(Notice.openid, Notice.id)
    return [(n.openid, json.loads(n.fields)["subject"], json.loads(n.fields)["ref"], n.dedup_key) for n in rows]


async def test_cancellations_over_the_threshold_alert_once_per_day(shop: Shop, rules: MetricRules) -> None:
    assert (rules.cancellation_threshold, rules.aov_band) == (0.08, 0.15)
    day_one = [place(shop.tee, at("2026-11-24", f"{10 + i}:00:00")) for i in range(12)]
    for placed in day_one:
        mark_paid(placed.order_no, f"TX{placed.order_no}", placed.payable_fen, at("2026-11-24", "22:00:00"),
                  rules=RULES.members)  # fmt: skip
    last = place(shop.tee, at("2026-11-24", "23:50:00"))  # times out at 00:20, before the check
    assert cancel_if_unpaid(last.order_no, at("2026-11-25", "00:20:00"), reason="timeout")

    clock = ManualClock(at("2026-11-25", "00:45:00"))
    result = await run_check(clock, rules)
    cancelled = result["cancellation"]
    assert (result["day"], cancelled["created"], cancelled["cancelled"], cancelled["rate"]) == (
        "2026-11-24", 13, 1, 0.0769)  # fmt: skip
    assert (cancelled["alert"], result["alerts"], alerts()) == (False, [], []), "1 of 13 is under 8 %"

    day_two = [place(shop.tee, at("2026-11-25", f"{10 + i}:00:00")) for i in range(4)]
    assert cancel_if_unpaid(day_two[0].order_no, at("2026-11-25", "10:05:00"), reason="buyer")
    for placed in day_two[1:]:
        mark_paid(placed.order_no, f"TX{placed.order_no}", placed.payable_fen, at("2026-11-25", "20:00:00"),
                  rules=RULES.members)  # fmt: skip
    clock.set(at("2026-11-26", "00:45:00"))
    result = await run_check(clock, rules)
    assert (result["cancellation"]["rate"], result["alerts"]) == (0.25, ["cancellation"])
    expected = [(op, "订单取消率25%超过8%", "2026-11-25", f"ops:metrics:cancellation:2026-11-25:{op}")
                for op in OPERATORS]  # fmt: skip
    assert alerts() == expected

    clock.set(at("2026-11-26", "01:45:00"))  # the hourly catch-up run of the same day
    assert (await run_check(clock, rules))["alerts"] == ["cancellation"]
    assert alerts() == expected, "the second run alerts nobody again"


async def test_order_value_out_of_its_band_alerts_once(shop: Shop, rules: MetricRules) -> None:
    for day in ("2026-10-25", "2026-11-01", "2026-11-08", "2026-11-15"):  # baseline: 4 weeks of 49.99
        pay(shop.tee, at(day, "12:00:00"))
    pay(shop.tee, at("2026-11-18", "12:00:00"))  # the 7 days up to 11-25 00:00; in tomorrow's baseline
    pay(shop.tee, at("2026-11-24", "23:59:00"))
    clock = ManualClock(at("2026-11-25", "00:45:00"))
    result = await run_check(clock, rules)
    value = result["average_order_value"]
    assert (value["fen"], value["baseline_fen"], value["within_band"], result["alerts"]) == (4999, 4999, True, [])

    pay(shop.dress, at("2026-11-25", "00:30:00"))  # after 00:00: tomorrow's check sees it, today's not
    assert (await run_check(clock, rules))["alerts"] == []
    clock.set(at("2026-11-26", "00:45:00"))
    result = await run_check(clock, rules)
    value = result["average_order_value"]
    assert (value["fen"], value["orders"], value["baseline_fen"], value["baseline_orders"]) == (
        (4999 + 15900 + 1) // 2, 2, 4999, 5)  # fmt: skip
    assert (value["deviation"], value["within_band"], result["alerts"]) == (1.0904, False, ["order_value"])
    assert [a[1:3] for a in alerts()] == [("客单价偏离基线+109%", "2026-11-25")] * 2
    clock.set(at("2026-11-26", "02:45:00"))
    await run_check(clock, rules)
    assert len(alerts()) == 2


async def test_no_operators_no_notices(shop: Shop, migrated: Config) -> None:
    place_and_cancel = place(shop.tee, at("2026-11-24", "10:00:00"))
    assert cancel_if_unpaid(place_and_cancel.order_no, at("2026-11-24", "10:01:00"))
    result = await run_check(ManualClock(at("2026-11-25", "01:00:00")), MetricRules.from_settings(migrated.shop))
    assert (result["alerts"], alerts()) == (["cancellation"], []), "logged only: nobody to tell"


def test_the_check_runs_daily_at_the_configured_time_then_hourly(config: Config) -> None:
    def at_time(check_at: str) -> CronJob:
        shop = dataclasses.replace(config.shop, metrics_check_at=check_at)
        return {j.name: j for j in cron_entries(dataclasses.replace(config, shop=shop))}["shop-metrics"]

    job = at_time("00:45")
    assert (job.hour, job.minute, job.second, job.unique) == (set(range(0, 24)), 45, 0, True)
    assert at_time("06:05").hour == set(range(6, 24))
    assert check_shop_metrics in job_functions()
