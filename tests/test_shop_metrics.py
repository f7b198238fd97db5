"""The merchant's metrics: orders, payments, refunds, funnel events and tickets made through the store's own
operations on a ManualClock, read back through `GET /admin/api/metrics` with the bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from bot.process.config import Config
from store.after_sales.tickets import DISPUTE, REFUND, AfterSalesRules, open_ticket
from store.catalog.products import Product
from store.core.clock import SHANGHAI
from store.monitoring import funnel
from store.monitoring.figures import Span, period_spans
from store.orders.checkout import CartLine, Order, cancel_if_unpaid, create_order
from store.orders.payments import PaymentOutcome, mark_paid
from store.orders.refunds import refund_succeeded, request_refund
from tests.order_support import BUYER, HOME, OTHER, RULES
from tests.pay_support import ADMIN_TOKEN, PayWorld, pay_world

TEE, DRESS, CARD = 4999, 15900, 10000  # what one unit of each test SKU costs (no discount applies below 200 yuan)


def at(day: str, clock_time: str = "00:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock_time}").replace(tzinfo=SHANGHAI)


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        w.sandbox.world.follow(BUYER)
        yield w


def order(w: PayWorld, sku: int, created: datetime, openid: str = BUYER) -> Order:
    return create_order(openid, [CartLine(sku, 1)], HOME, [], 0, created, rules=RULES)


def paid(w: PayWorld, sku: int, when: datetime, openid: str = BUYER) -> Order:
    """An order created a minute before `when` and paid at `when`, as the pay notice records it."""
    placed = order(w, sku, when - timedelta(minutes=1), openid)
    result = mark_paid(placed.order_no, f"TX{placed.order_no}", placed.payable_fen, when, rules=RULES.members)
    assert result.outcome == PaymentOutcome.PAID
    return Order.get_by_id(placed.id)


async def metrics(w: PayWorld, query: str = "") -> dict:
    status, body = await w.admin("GET", f"/admin/api/metrics{query}")
    assert status == 200, body
    return body


def test_periods_compare_the_same_elapsed_time() -> None:
    now = at("2026-03-31", "12:00:00")  # a Tuesday
    assert period_spans("month", now) == (Span(at("2026-03-01"), now), Span(at("2026-02-01"), at("2026-03-01")))
    last_week = Span(at("2026-03-23"), at("2026-03-24", "12:00:00"))
    assert period_spans("week", now) == (Span(at("2026-03-30"), now), last_week)
    assert period_spans("quarter", at("2026-11-24", "10:00:00")) == (
        Span(at("2026-10-01"), at("2026-11-24", "10:00:00")), Span(at("2026-07-01"), at("2026-08-24", "10:00:00")),
    )  # fmt: skip
    january = at("2027-01-15", "08:00:00")
    assert period_spans("quarter", january)[1] == Span(at("2026-10-01"), at("2026-10-15", "08:00:00"))
    assert period_spans("month", january)[1] == Span(at("2026-12-01"), at("2026-12-15", "08:00:00"))


async def test_gmv_week_turns_at_monday_midnight_and_growth_needs_a_previous_period(world: PayWorld) -> None:
    shop = world.shop
    paid(world, shop.card, at("2026-11-23", "00:00:10"))  # last Monday, just after midnight
    paid(world, shop.tee, at("2026-11-29", "23:59:00"))  # Sunday 23:59: last week
    monday = paid(world, shop.dress, at("2026-11-30"))  # Monday 00:00: this week

    world.clock.set(at("2026-11-29", "23:59:30"))
    week = (await metrics(world))["gmv"]["week"]
    assert (week["fen"], week["previous_fen"], week["growth"]) == (CARD + TEE, 0, None), "no GMV the week before"

    world.clock.set(at("2026-11-30", "00:00:20"))
    refund = request_refund(monday.order_no, 5900, "少发一件", world.clock.now())
    assert refund_succeeded(refund.refund_no, world.clock.now(), RULES.members)
    late = order(world, shop.tee, at("2026-11-29", "23:00:00"))  # cancelled, then paid: refunded automatically
    assert cancel_if_unpaid(late.order_no, at("2026-11-29", "23:40:00"), reason="timeout")
    result = mark_paid(late.order_no, "TXLATE", TEE, world.clock.now(), rules=RULES.members)
    assert refund_succeeded(result.refund_no, world.clock.now(), RULES.members)

    world.clock.set(at("2026-11-30", "00:00:30"))
    body = await metrics(world)
    assert body["as_of"] == "2026-11-30T00:00:30+08:00"
    assert body["gmv"]["week"] == {
        "fen": DRESS, "previous_fen": CARD, "growth": round((DRESS - CARD) / CARD, 4), "refunded_fen": 5900,
        "net_fen": DRESS - 5900, "previous_refunded_fen": 0, "since": "2026-11-30T00:00:00+08:00",
        "previous_since": "2026-11-23T00:00:00+08:00", "previous_until": "2026-11-23T00:00:30+08:00",
    }, "Sunday 23:59 is in neither span; the late payment's refund is no GMV refund"  # fmt: skip
    month, quarter = body["gmv"]["month"], body["gmv"]["quarter"]
    assert (month["fen"], month["previous_fen"], month["growth"], month["net_fen"]) == (
        CARD + TEE + DRESS, 0, None, CARD + TEE + DRESS - 5900)  # fmt: skip
    assert (quarter["fen"], quarter["previous_fen"], quarter["refunded_fen"]) == (CARD + TEE + DRESS, 0, 5900)


async def test_average_order_value_against_the_four_weeks_before(world: PayWorld) -> None:
    shop = world.shop
    for day in ("2026-10-28", "2026-11-10", "2026-11-17"):  # the baseline: 28 days before the last 7
        paid(world, shop.tee, at(day, "09:00:00"))
    paid(world, shop.tee, at("2026-11-17", "10:00:00"))  # exactly 7 days before now: the recent week
    paid(world, shop.dress, at("2026-11-24", "09:59:59"))
    paid(world, shop.tee, at("2026-10-20", "09:59:59"), OTHER)  # 35 days and a second ago: neither

    value = (await metrics(world))["average_order_value"]
    assert value == {
        "fen": (TEE + DRESS + 1) // 2, "baseline_fen": TEE, "band": 0.15, "within_band": False, "orders": 2,
        "baseline_orders": 3, "deviation": round(((TEE + DRESS + 1) // 2 - TEE) / TEE, 4),
    }  # fmt: skip

    world.clock.set(at("2026-12-30"))  # nothing paid in either window: nothing to compare
    value = (await metrics(world))["average_order_value"]
    assert (value["fen"], value["baseline_fen"], value["within_band"], value["deviation"]) == (0, 0, True, None)


async def test_funnel_counts_cards_shown_pages_opened_and_orders_paid(world: PayWorld) -> None:
    shop, now = world.shop, world.clock.now()
    dress = Product.get(Product.code == "P1")
    tee = Product.get(Product.code == "P2")
    for minutes in (5, 10, 15, 20):
        funnel.record(funnel.EXPOSURE, dress.id, now - timedelta(minutes=minutes), BUYER)
    funnel.record(funnel.EXPOSURE, tee.id, now - timedelta(hours=2), BUYER)
    funnel.record(funnel.EXPOSURE, tee.id, now - timedelta(days=8), BUYER)  # before the span
    async with world.session.get(f"{world.shop_url}/p/P1") as page:  # the product page a card links to
        assert page.status == 200
    async with world.session.get(f"{world.shop_url}/p/P1") as page:
        assert page.status == 200
    paid(world, shop.dress, now - timedelta(minutes=3))
    paid(world, shop.tee, now - timedelta(days=1))
    world.clock.advance(minutes=1)

    body = await metrics(world, "?by_product=1")
    shown = body["funnel"]
    assert shown["since"] == "2026-11-17T10:01:00+08:00"
    assert {k: shown[k] for k in ("exposure", "click", "paid", "click_rate", "pay_rate")} == {
        "exposure": 5, "click": 2, "paid": 2, "click_rate": 0.4, "pay_rate": 1.0}  # fmt: skip
    assert shown["products"] == [
        {"product_id": dress.id, "title": "法式碎花连衣裙", "exposure": 4, "click": 2, "paid": 1, "click_rate": 0.5,
         "pay_rate": 0.5},
        {"product_id": tee.id, "title": "纯棉T恤", "exposure": 1, "click": 0, "paid": 1, "click_rate": 0.0,
         "pay_rate": None},
    ]  # fmt: skip
    one_day = (await metrics(world, "?funnel_days=1"))["funnel"]
    assert (one_day["exposure"], one_day["click"], one_day["paid"], "products" in one_day) == (5, 2, 1, False)
    year = (await metrics(world, "?funnel_days=366"))["funnel"]
    assert year["exposure"] == 6


async def test_payment_success_counts_the_orders_given_a_pay_link(world: PayWorld) -> None:
    shop = world.shop
    paid(world, shop.tee, at("2026-11-23", "23:30:00"))  # yesterday: neither
    paid(world, shop.card, at("2026-11-24", "08:30:00"))  # today, before the last hour
    expired = order(world, shop.tee, at("2026-11-24", "09:05:00"))  # deadline 09:35, not yet swept
    pending = order(world, shop.tee, at("2026-11-24", "09:45:00"))
    world.clock.set(at("2026-11-24", "09:10:00"))
    by_pay_page = order(world, shop.dress, world.clock.now())
    params = await world.pay_params(by_pay_page.order_no, BUYER)  # the unified order, through the sandbox
    assert (await world.confirm(params, BUYER))["err_msg"] == "get_brand_wcpay_request:ok"
    await world.sandbox.pay.deliver_due()
    assert Order.get_by_id(by_pay_page.id).paid_at == at("2026-11-24", "09:10:00")
    assert (expired.status, pending.status) == ("unpaid", "unpaid")

    world.clock.set(at("2026-11-24", "10:00:00"))
    rates = (await metrics(world))["payment_success_rate"]
    assert rates == {
        "hour": {"attempts": 3, "paid": 1, "pending": 1, "rate": 0.3333, "threshold": 0.9, "alert": True},
        "today": {"attempts": 4, "paid": 2, "pending": 1, "rate": 0.5, "threshold": 0.9, "alert": True},
    }


async def test_cancellation_rate_of_a_day_and_the_weeks_complaints(world: PayWorld) -> None:
    shop = world.shop
    orders = [order(world, shop.tee, at("2026-11-23", f"{10 + i}:00:00")) for i in range(4)]
    late = order(world, shop.tee, at("2026-11-23", "23:50:00"))  # the day's order, timed out after midnight
    order(world, shop.tee, at("2026-11-24", "00:00:00"))  # the next day's
    assert cancel_if_unpaid(orders[0].order_no, at("2026-11-23", "10:10:00"), reason="buyer")
    assert cancel_if_unpaid(late.order_no, at("2026-11-24", "00:20:00"), reason="timeout")
    for placed in orders[1:3]:
        mark_paid(placed.order_no, f"TX{placed.order_no}", TEE, at("2026-11-23", "21:00:00"), rules=RULES.members)

    body = await metrics(world, "?day=2026-11-23")
    assert body["cancellation_rate"] == {
        "day": "2026-11-23", "created": 5, "cancelled": 2, "rate": 0.4, "threshold": 0.08, "alert": True,
        "open": 1, "by_reason": {"buyer": 1, "timeout": 1},
    }  # fmt: skip
    today = (await metrics(world))["cancellation_rate"]
    assert (today["day"], today["created"], today["cancelled"], today["rate"], today["alert"]) == (
        "2026-11-24", 1, 0, 0.0, False)  # fmt: skip
    none = (await metrics(world, "?day=2026-11-01"))["cancellation_rate"]
    assert (none["created"], none["rate"], none["alert"]) == (0, None, False)

    rules = AfterSalesRules()
    sunday = paid(world, shop.tee, at("2026-11-22", "23:00:00"))
    open_ticket(BUYER, sunday.order_no, DISPUTE, "客服态度不好", [], at("2026-11-22", "23:59:00"), rules)
    open_ticket(BUYER, orders[1].order_no, DISPUTE, "发货太慢了", [], at("2026-11-24", "08:00:00"), rules)
    open_ticket(BUYER, orders[2].order_no, REFUND, "不想要了", [], at("2026-11-24", "08:00:00"), rules)
    complaints = (await metrics(world))["complaint_rate"]
    assert complaints == {"week_start": "2026-11-23", "complaints": 1, "paid_orders": 2, "rate": 0.5,
                          "threshold": 0.02}  # fmt: skip


async def test_bad_parameters_and_the_token(world: PayWorld) -> None:
    for query in ("?day=yesterday", "?day=2026-02-30", "?funnel_days=0", "?funnel_days=x", "?funnel_days=367"):
        status, body = await world.admin("GET", f"/admin/api/metrics{query}")
        assert status == 400 and "error" in body, query
    async with world.session.get(f"{world.shop_url}/admin/api/metrics") as response:
        assert response.status == 401
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}x"}
    async with world.session.get(f"{world.shop_url}/admin/api/metrics", headers=headers) as response:
        assert response.status == 401
