"""Refunds through the admin API and WeChat Pay's refund API (the sandbox): full and partial, restock rules,
idempotent by refund number, never more than was paid; and the orders admin API around them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.process.config import Config
from scheduler.order_jobs import sync_refunds
from store.catalog.inventory import stock_of
from store.members.accounts import Member, SpendEntry, points_balance
from store.orders.checkout import PAID, PARTIALLY_REFUNDED, REFUNDED, CartLine, Order, OrderLine, create_order
from store.orders.payments import Refund
from store.promotions.coupons import AVAILABLE, USED, Coupon
from tests.order_support import BUYER, HOME, RULES, coupon, give_points
from tests.pay_support import PayWorld, pay_world


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        w.sandbox.world.follow(BUYER)
        yield w


async def paid_order(w: PayWorld, *lines: tuple[int, int], coupons: tuple[str, ...] = (), points: int = 0) -> Order:
    lines = lines or ((w.shop.dress, 2), (w.shop.tee, 1))
    order = create_order(BUYER, [CartLine(s, q) for s, q in lines], HOME, list(coupons), points, w.clock.now(),
                         rules=RULES)  # fmt: skip
    params = await w.pay_params(order.order_no, BUYER)
    assert (await w.confirm(params, BUYER))["err_msg"] == "get_brand_wcpay_request:ok"
    await w.sandbox.pay.deliver_due()
    assert Order.get_by_id(order.id).status == PAID
    return Order.get_by_id(order.id)


def refund_path(order: Order) -> str:
    return f"/admin/api/orders/{order.order_no}/refund"


async def test_full_refund_of_an_unshipped_order_gives_everything_back(world: PayWorld) -> None:
    give_points(BUYER, 1000)
    code = coupon(BUYER, "percent", 90)
    order = await paid_order(world, coupons=(code,), points=1000)
    assert (stock_of(world.shop.dress), stock_of(world.shop.tee)) == (8, 99)
    assert Coupon.get(Coupon.code == code).status == USED
    earned = points_balance(BUYER)
    assert earned == order.payable_fen // 100

    status, refund = await world.admin("POST", refund_path(order), json={"reason": "不想要了"})
    assert status == 201, refund
    assert (refund["status"], refund["amount_fen"]) == ("succeeded", order.payable_fen)
    pay_order = world.sandbox.pay.order(order.order_no)
    assert [r.refund_fee for r in pay_order.refunds] == [order.payable_fen]
    done = Order.get_by_id(order.id)
    assert (done.status, done.refunded_fen) == (REFUNDED, order.payable_fen)
    assert (stock_of(world.shop.dress), stock_of(world.shop.tee)) == (10, 100), "unshipped: restocked"
    assert Coupon.get(Coupon.code == code).status == AVAILABLE, "a full refund returns the coupon"
    assert points_balance(BUYER) == 1000, "points used come back, points earned are clawed back"
    assert Member.get(Member.openid == BUYER).total_spend_fen == 0
    last = SpendEntry.select().where(SpendEntry.openid == BUYER).order_by(SpendEntry.id.desc()).get()
    assert last.amount_fen == -order.payable_fen

    status, body = await world.admin("POST", refund_path(order), json={"amount_fen": 1})
    assert status == 409 and "nothing to refund" in body["error"]


async def test_partial_refunds_restock_only_named_lines_and_add_up(world: PayWorld) -> None:
    order = await paid_order(world)
    lines = {line.sku_code: line for line in OrderLine.select().where(OrderLine.order == order.id)}
    dress_line = lines["P1-M"]

    status, first = await world.admin("POST", refund_path(order), json={
        "amount_fen": dress_line.paid_fen // 2, "reason": "一件有瑕疵", "restock": {str(dress_line.id): 1}})
    assert status == 201 and first["status"] == "succeeded"
    assert Order.get_by_id(order.id).status == PARTIALLY_REFUNDED
    assert stock_of(world.shop.dress) == 9 and stock_of(world.shop.tee) == 99
    assert points_balance(BUYER) < order.payable_fen // 100, "earned points clawed back in proportion"

    status, body = await world.admin("POST", refund_path(order), json={"amount_fen": order.payable_fen})
    assert status == 409 and "exceeds" in body["error"]
    status, body = await world.admin("POST", refund_path(order), json={
        "amount_fen": 100, "restock": {str(dress_line.id): 2}})
    assert status == 409 and "can restock 0..1" in body["error"]

    status, rest = await world.admin("POST", refund_path(order), json={"reason": "全部退"})
    assert status == 201 and rest["amount_fen"] == order.payable_fen - first["amount_fen"]
    done = Order.get_by_id(order.id)
    assert (done.status, done.refunded_fen) == (REFUNDED, order.payable_fen)
    assert (stock_of(world.shop.dress), stock_of(world.shop.tee)) == (10, 100), "the remaining units come back"
    assert points_balance(BUYER) == 0 and Member.get(Member.openid == BUYER).total_spend_fen == 0
    assert world.sandbox.pay.order(order.order_no).refunded_fee == order.payable_fen


async def test_a_refund_number_refunds_once(world: PayWorld) -> None:
    order = await paid_order(world)
    body = {"amount_fen": 1000, "refund_no": "ADMIN-REQ-1", "reason": "补差价"}
    status, first = await world.admin("POST", refund_path(order), json=body)
    status2, again = await world.admin("POST", refund_path(order), json=body)
    assert (status, status2) == (201, 200) and first == again
    assert len(world.sandbox.pay.order(order.order_no).refunds) == 1
    assert Order.get_by_id(order.id).refunded_fen == 1000
    status, conflict = await world.admin("POST", refund_path(order), json={**body, "amount_fen": 2000})
    assert status == 409 and "ADMIN-REQ-1" in conflict["error"]


async def test_shipped_orders_are_not_restocked_automatically(world: PayWorld) -> None:
    order = await paid_order(world)
    Order.update(status="shipped", shipped_at=world.clock.now()).where(Order.id == order.id).execute()
    status, refund = await world.admin("POST", refund_path(order), json={})
    assert status == 201 and refund["status"] == "succeeded"
    assert Order.get_by_id(order.id).status == REFUNDED
    assert (stock_of(world.shop.dress), stock_of(world.shop.tee)) == (8, 99), "returns restock via after-sales"


async def test_transient_and_permanent_refusals(world: PayWorld) -> None:
    order = await paid_order(world)
    world.sandbox.pay.faults.fail_next("refund", code="SYSTEMERROR", message="系统超时")
    status, refund = await world.admin("POST", refund_path(order), json={"amount_fen": 500})
    assert status == 201 and refund["status"] == "pending" and "SYSTEMERROR" in refund["error"]
    assert Order.get_by_id(order.id).status == "refunding"
    deps = world.deps()
    assert await sync_refunds({"deps": deps}) == 1, "the sweep pushes it again"
    assert Refund.get(Refund.refund_no == refund["refund_no"]).status == "succeeded"
    assert Order.get_by_id(order.id).status == PARTIALLY_REFUNDED

    world.sandbox.pay.faults.fail_next("refund", code="TRADE_OVERDUE", message="订单已经超过退款期限")
    status, refused = await world.admin("POST", refund_path(order), json={"amount_fen": 700})
    assert status == 201 and refused["status"] == "failed" and "TRADE_OVERDUE" in refused["error"]
    back = Order.get_by_id(order.id)
    assert (back.status, back.refunded_fen) == (PARTIALLY_REFUNDED, 500), "a failed refund settles back"
    status, rest = await world.admin("POST", refund_path(order), json={})
    assert rest["amount_fen"] == order.payable_fen - 500, "a failed refund does not count against the total"


async def test_unpaid_orders_cannot_be_refunded(world: PayWorld) -> None:
    order = create_order(BUYER, [CartLine(world.shop.tee, 1)], HOME, [], 0, world.clock.now(), rules=RULES)
    status, body = await world.admin("POST", refund_path(order), json={})
    assert status == 409 and "unpaid" in body["error"]
    status, body = await world.admin("POST", "/admin/api/orders/NOPE/refund", json={})
    assert status == 404
    status, body = await world.admin("POST", refund_path(order), json={"amount_fen": -5})
    assert status == 400


async def test_orders_admin_list_and_detail(world: PayWorld) -> None:
    paid = await paid_order(world)
    unpaid = create_order(BUYER, [CartLine(world.shop.card, 1)], None, [], 0, world.clock.now(), rules=RULES)
    status, page = await world.admin("GET", "/admin/api/orders")
    assert status == 200 and [o["order_no"] for o in page["orders"]] == [unpaid.order_no, paid.order_no]
    status, page = await world.admin("GET", "/admin/api/orders?status=paid")
    assert [o["order_no"] for o in page["orders"]] == [paid.order_no]
    status, page = await world.admin("GET", "/admin/api/orders?limit=1")
    assert page["next_before_id"] == unpaid.id
    status, page = await world.admin("GET", f"/admin/api/orders?limit=1&before_id={page['next_before_id']}")
    assert [o["order_no"] for o in page["orders"]] == [paid.order_no]
    status, _ = await world.admin("GET", "/admin/api/orders?status=nonsense")
    assert status == 400

    status, detail = await world.admin("GET", f"/admin/api/orders/{paid.order_no}")
    assert status == 200 and detail["status"] == "paid" and detail["shipping"]["phone"] == "13812345678"
    assert [line["sku_code"] for line in detail["lines"]] == ["P1-M", "P2-L"]
    assert detail["payments"][0]["total_fee"] == paid.payable_fen and detail["refunds"] == []
    assert any("满200元减20元" in line for line in detail["pricing"])
    status, _ = await world.admin("GET", "/admin/api/orders/NOPE")
    assert status == 404
    async with world.session.get(f"{world.shop_url}/admin/api/orders") as response:
        assert response.status == 401, "bearer token required"
