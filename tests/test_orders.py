"""Orders in the store: creation reserves stock, coupons and points in one transaction; cancellation and payment
happen exactly once, also when they race each other or themselves; 1,000 buyers for 100 units leave 100 orders."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from bot.process.config import Config
from store.catalog.inventory import stock_of
from store.catalog.products import Sku
from store.core.db import open_database, write_transaction
from store.members.accounts import Member, PointsEntry, SpendEntry, points_balance, tier_of
from store.orders.addresses import Address, InvalidAddress, last_address, validate_address
from store.orders.checkout import (
    CANCELLED,
    PAID,
    UNPAID,
    AddressRequired,
    CartLine,
    CouponUnavailable,
    EmptyOrder,
    NotEnoughPoints,
    Order,
    OrderLine,
    OutOfStock,
    PriceChanged,
    SkuUnavailable,
    cancel_if_unpaid,
    create_order,
    expired_unpaid,
    quote,
)
from store.orders.payments import AmountMismatch, Payment, PaymentOutcome, Refund, UnknownOrder, mark_paid
from store.orders.pricing import Tier
from store.orders.views import order_detail, recent_orders
from store.outbox.notices import Notice
from store.promotions.coupons import AVAILABLE, LOCKED, USED, Coupon
from tests.order_support import BUYER, HOME, OTHER, RULES, START, Shop, coupon, give_points, make_shop, race

MEMBERS = RULES.members


@pytest.fixture
def shop(migrated: Config) -> Shop:
    open_database(migrated.database.url, migrated.var_dir)
    return make_shop()


def order(shop: Shop, *lines: tuple[int, int], coupons: tuple[str, ...] = (), points: int = 0, openid: str = BUYER,
          address=HOME, now=START, **kw) -> Order:  # type: ignore[no-untyped-def]  # fmt: skip
    lines = lines or ((shop.dress, 1),)
    return create_order(openid, [CartLine(s, q) for s, q in lines], address, list(coupons), points, now, rules=RULES,
                        **kw)  # fmt: skip


def pay(o: Order, transaction_id: str = "4200000001", fee: int | None = None, now=START):  # type: ignore[no-untyped-def]
    return mark_paid(o.order_no, transaction_id, o.payable_fen if fee is None else fee, now, rules=MEMBERS)


def test_create_order_reserves_stock_and_records_everything(shop: Shop) -> None:
    created = order(shop, (shop.dress, 2), (shop.tee, 1))
    assert re.fullmatch(r"20261124100000\d{10}", created.order_no)
    assert created.status == UNPAID and created.expires_at == START + timedelta(minutes=30)
    assert created.subtotal_fen == 2 * 15900 + 4999 and created.payable_fen == 36799 - 2000  # 满200减20
    assert (stock_of(shop.dress), stock_of(shop.tee)) == (8, 99)
    lines = list(OrderLine.select().where(OrderLine.order == created.id).order_by(OrderLine.id))
    assert [(line.sku_code, line.quantity, line.spec) for line in lines] == [("P1-M", 2, "颜色:红色;尺码:M"),
                                                                              ("P2-L", 1, "尺码:L")]
    assert sum(line.paid_fen for line in lines) == created.payable_fen
    assert "满200元减20元" in created.pricing and created.title == "法式碎花连衣裙 等3件"
    assert created.address_line() == "张三 13812345678 广东省 深圳市 南山区 科技园南路 88 号 2 栋 301"
    assert last_address(BUYER).detail == HOME.detail


def test_same_sku_twice_is_one_line_and_bad_quantities_are_refused(shop: Shop) -> None:
    created = order(shop, (shop.tee, 1), (shop.tee, 2))
    assert OrderLine.get(OrderLine.order == created.id).quantity == 3
    for bad in (0, -1, 100):
        with pytest.raises(EmptyOrder):
            order(shop, (shop.tee, bad))
    with pytest.raises(EmptyOrder):
        create_order(BUYER, [], HOME, [], 0, START, rules=RULES)


def test_address_is_required_unless_every_line_is_virtual(shop: Shop) -> None:
    with pytest.raises(AddressRequired):
        order(shop, (shop.dress, 1), (shop.card, 1), address=None)
    created = order(shop, (shop.card, 2), address=None)
    assert not created.needs_shipping and created.address_line() == "虚拟商品，无需收货地址"
    assert Address.select().count() == 0
    assert quote(BUYER, [CartLine(shop.card, 1)], [], 0, START, rules=RULES).needs_address is False


def test_addresses_are_validated_and_remembered_once() -> None:
    with pytest.raises(InvalidAddress) as caught:
        validate_address("", "12345", "广", "路")
    assert set(caught.value.problems) == {"name", "phone", "region", "detail"}
    assert validate_address("李四", "+86 138-1234-5678", "北京市 朝阳区", "建国路 1 号").phone == "13812345678"
    assert validate_address("李四", "８６13812345678", "北京市 朝阳区", "建国路 1 号").phone == "13812345678"
    with pytest.raises(InvalidAddress):
        validate_address("李四", "12812345678", "北京市 朝阳区", "建国路 1 号")  # 12x is not a mobile prefix


def test_saved_address_can_be_reused(shop: Shop) -> None:
    order(shop)
    saved = last_address(BUYER)
    order(shop, address=saved)
    assert Address.select().where(Address.openid == BUYER).count() == 1


def test_out_of_stock_names_the_sku_and_changes_nothing(shop: Shop) -> None:
    give_points(BUYER, 1000)
    code = coupon(BUYER, "fixed", 500)
    with pytest.raises(OutOfStock) as caught:
        order(shop, (shop.tee, 1), (shop.dress, 11), coupons=(code,), points=300)
    assert caught.value.sku_ids == [shop.dress] and "仅剩10件" in str(caught.value)
    assert (stock_of(shop.dress), stock_of(shop.tee)) == (10, 100)
    assert Order.select().count() == 0 and OrderLine.select().count() == 0
    assert Coupon.get(Coupon.code == code).status == AVAILABLE
    assert points_balance(BUYER) == 1000


def test_off_sale_sku_is_refused(shop: Shop) -> None:
    Sku.update(on_sale=False).where(Sku.id == shop.tee).execute()
    with pytest.raises(SkuUnavailable) as caught:
        order(shop, (shop.tee, 1))
    assert "纯棉T恤已下架" in str(caught.value)
    with pytest.raises(SkuUnavailable):
        order(shop, (999999, 1))


def test_coupons_lock_with_the_order_and_only_once(shop: Shop) -> None:
    mine = coupon(BUYER, "threshold", 3000, 15000)
    theirs = coupon(OTHER, "fixed", 500)
    with pytest.raises(CouponUnavailable) as caught:
        order(shop, coupons=(theirs,))
    assert "没有找到" in str(caught.value)
    first = order(shop, coupons=(mine,))
    assert first.payable_fen == 15900 - 3000
    locked = Coupon.get(Coupon.code == mine)
    assert (locked.status, locked.locked_by) == (LOCKED, first.order_no)
    with pytest.raises(CouponUnavailable) as caught:
        order(shop, coupons=(mine,))
    assert "占用" in str(caught.value)


def test_a_coupon_raced_by_two_orders_goes_to_one(shop: Shop) -> None:
    code = coupon(BUYER, "fixed", 1000)
    results = race(8, 8, lambda i: order(shop, (shop.tee, 1), coupons=(code,)))
    won = [r for r in results if isinstance(r, Order)]
    assert len(won) == 1, results
    assert all(isinstance(r, CouponUnavailable) for r in results if not isinstance(r, Order))
    assert stock_of(shop.tee) == 99 and Order.select().count() == 1


def test_coupon_not_chosen_by_stacking_is_not_locked(shop: Shop) -> None:
    code = coupon(BUYER, "fixed", 1000)
    created = order(shop, (shop.dress, 2), coupons=(code,))  # 满200减20 beats 10 yuan off; 立减 is exclusive
    assert created.payable_fen == 31800 - 2000
    assert Coupon.get(Coupon.code == code).status == AVAILABLE
    assert "不可同享" in created.pricing


def test_points_are_taken_at_creation(shop: Shop) -> None:
    give_points(BUYER, 800)
    with pytest.raises(NotEnoughPoints) as caught:
        order(shop, points=900)
    assert caught.value.balance == 800
    created = order(shop, points=800)
    assert (created.points_used, created.points_fen, created.payable_fen) == (800, 800, 15100)
    assert points_balance(BUYER) == 0


def test_quote_caps_points_by_balance_and_create_refuses_a_changed_price(shop: Shop) -> None:
    give_points(BUYER, 300)
    q = quote(BUYER, [CartLine(shop.dress, 1)], [], 5000, START, rules=RULES)
    assert q.priced.points_used == 300 and q.points_balance == 300 and q.needs_address
    Sku.update(price_fen=16900).where(Sku.id == shop.dress).execute()
    with pytest.raises(PriceChanged) as caught:
        order(shop, points=300, expected_payable_fen=q.priced.payable_fen)
    assert caught.value.priced.payable_fen == 16600
    assert stock_of(shop.dress) == 10 and points_balance(BUYER) == 300


def test_cancel_gives_everything_back_exactly_once(shop: Shop) -> None:
    give_points(BUYER, 500)
    code = coupon(BUYER, "percent", 90)
    created = order(shop, (shop.dress, 3), coupons=(code,), points=500)
    assert stock_of(shop.dress) == 7 and points_balance(BUYER) == 0
    assert cancel_if_unpaid(created.order_no, START, reason="buyer")
    assert not cancel_if_unpaid(created.order_no, START, reason="buyer")
    assert stock_of(shop.dress) == 10 and points_balance(BUYER) == 500
    assert Coupon.get(Coupon.code == code).status == AVAILABLE
    assert Order.get_by_id(created.id).status == CANCELLED


def test_timeout_cancellation_waits_for_the_deadline(shop: Shop) -> None:
    created = order(shop)
    assert expired_unpaid(START + timedelta(minutes=29)) == []
    assert not cancel_if_unpaid(created.order_no, START + timedelta(minutes=29), reason="timeout")
    assert expired_unpaid(START + timedelta(minutes=30)) == [created.order_no]
    assert cancel_if_unpaid(created.order_no, START + timedelta(minutes=30), reason="timeout")
    assert stock_of(shop.dress) == 10


def test_cancel_releases_an_expired_coupon_as_expired(shop: Shop) -> None:
    code = coupon(BUYER, "fixed", 1000, days=1)
    created = order(shop, (shop.tee, 1), coupons=(code,))
    assert cancel_if_unpaid(created.order_no, START + timedelta(days=2))
    assert Coupon.get(Coupon.code == code).status == "expired"


def test_concurrent_cancellations_release_stock_once(shop: Shop) -> None:
    created = order(shop, (shop.dress, 4))
    results = race(8, 8, lambda i: cancel_if_unpaid(created.order_no, START, reason="buyer"))
    assert results.count(True) == 1 and results.count(False) == 7
    assert stock_of(shop.dress) == 10


def test_payment_is_recorded_once_and_feeds_the_member(shop: Shop) -> None:
    code = coupon(BUYER, "fixed", 900)
    created = order(shop, (shop.tee, 1), coupons=(code,))
    first = pay(created)
    assert first.outcome is PaymentOutcome.PAID and first.points_earned == 40  # 40.99 yuan paid
    again = pay(created)
    assert again.outcome is PaymentOutcome.DUPLICATE
    paid = Order.get_by_id(created.id)
    assert (paid.status, paid.transaction_id, paid.paid_at) == (PAID, "4200000001", START)
    assert Coupon.get(Coupon.code == code).status == USED
    member = Member.get(Member.openid == BUYER)
    assert (member.total_spend_fen, member.points) == (4099, 40)
    assert SpendEntry.select().count() == 1 and Payment.select().count() == 1
    assert SpendEntry.get().amount_fen == 4099 and member.tier == "normal"


def test_wrong_amount_and_unknown_orders_change_nothing(shop: Shop) -> None:
    created = order(shop)
    with pytest.raises(AmountMismatch):
        pay(created, fee=1)
    with pytest.raises(UnknownOrder):
        mark_paid("20260101000000NOSUCHORDER", "42", 1, START, rules=MEMBERS)
    assert Order.get_by_id(created.id).status == UNPAID and Payment.select().count() == 0


def test_concurrent_duplicate_notices_pay_once(shop: Shop) -> None:
    created = order(shop, (shop.dress, 2))
    results = race(8, 16, lambda i: pay(created).outcome)
    assert results.count(PaymentOutcome.PAID) == 1, results
    assert results.count(PaymentOutcome.DUPLICATE) == 15
    assert Member.get(Member.openid == BUYER).total_spend_fen == created.payable_fen
    assert SpendEntry.select().count() == 1 and PointsEntry.select().count() == 1


def test_a_payment_after_cancellation_is_recorded_and_refunded(shop: Shop) -> None:
    created = order(shop, (shop.dress, 2))
    later = START + timedelta(minutes=31)
    assert cancel_if_unpaid(created.order_no, later, reason="timeout")
    result = pay(created, "4200000099", now=later)
    assert result.outcome is PaymentOutcome.REFUND and result.refund_no == "RF4200000099"
    refund = Refund.get(Refund.refund_no == "RF4200000099")
    assert (refund.kind, refund.amount_fen, refund.status) == ("late_payment", created.payable_fen, "pending")
    assert Order.get_by_id(created.id).status == CANCELLED and stock_of(shop.dress) == 10
    assert pay(created, "4200000099", now=later).outcome is PaymentOutcome.DUPLICATE
    assert Refund.select().count() == 1 and Member.get_or_none(Member.openid == BUYER) is None


def test_timeout_racing_a_payment_ends_consistent(shop: Shop) -> None:
    """Many rounds of a timeout cancellation and a payment notice released together: exactly one wins; the
    loser changes nothing or records the late payment for refund."""
    due = START + timedelta(minutes=30)
    for round_no in range(12):
        created = order(shop, (shop.tee, 1))
        outcome: dict[str, object] = {}

        def work(i: int, created: Order = created, round_no: int = round_no, outcome: dict = outcome) -> None:
            if i == 0:
                outcome["cancelled"] = cancel_if_unpaid(created.order_no, due, reason="timeout")
            else:
                outcome["paid"] = pay(created, f"42{round_no:08d}", now=due).outcome

        race(2, 2, work)
        status = Order.get_by_id(created.id).status
        if outcome["cancelled"]:
            assert status == CANCELLED and outcome["paid"] is PaymentOutcome.REFUND
        else:
            assert status == PAID and outcome["paid"] is PaymentOutcome.PAID
    paid = Order.select().where(Order.status == PAID).count()
    refunds = Refund.select().count()
    assert paid + refunds == 12
    assert stock_of(shop.tee) == 100 - paid


def test_thousand_buyers_for_a_hundred_units(shop: Shop) -> None:
    Sku.update(stock=100).where(Sku.id == shop.tee).execute()
    results = race(32, 1000, lambda i: order(shop, (shop.tee, 1), openid=f"o_buyer_{i:04d}"))
    won = [r for r in results if isinstance(r, Order)]
    others = [r for r in results if not isinstance(r, Order)]
    assert len(won) == 100, [r for r in others if not isinstance(r, OutOfStock)][:3]
    assert all(isinstance(r, OutOfStock) for r in others)
    assert stock_of(shop.tee) == 0
    assert Order.select().count() == 100 and OrderLine.select().count() == 100
    assert len({o.order_no for o in won}) == 100


def test_tier_follows_paid_spend(shop: Shop) -> None:
    Sku.update(price_fen=250000, stock=100).where(Sku.id == shop.tee).execute()
    assert tier_of(BUYER, START, MEMBERS) is Tier.NORMAL
    pay(order(shop, (shop.tee, 1)), "T1")  # 2,500 - 20 yuan
    pay(order(shop, (shop.tee, 1)), "T2")
    assert tier_of(BUYER, START, MEMBERS) is Tier.NORMAL  # 4,960 yuan < 5,000
    pay(order(shop, (shop.tee, 1)), "T3")
    assert tier_of(BUYER, START, MEMBERS) is Tier.VIP
    assert Member.get(Member.openid == BUYER).tier == "vip"
    told = Notice.select().where(Notice.kind == "tier_change", Notice.openid == BUYER)
    assert told.count() == 1, "one tier-change notice, for the payment that crossed the line"
    fourth = order(shop, (shop.tee, 1))
    assert fourth.tier == "vip" and fourth.payable_fen == 237500 - 2000  # 95折 + 满减
    a_year_later = START + timedelta(days=400)
    assert tier_of(BUYER, a_year_later, MEMBERS) is Tier.VIP  # cumulative: VIP stays


def test_orders_for_the_chat(shop: Shop) -> None:
    first = order(shop)
    second = order(shop, (shop.card, 1), address=None, now=START + timedelta(minutes=1))
    order(shop, openid=OTHER)
    assert [o.order_no for o in recent_orders(BUYER)] == [second.order_no, first.order_no]
    assert recent_orders(BUYER)[0].line() == "11月24日 电子礼品卡 ¥100.00 待支付"
    assert order_detail(first.order_no, OTHER) is None
    detail = order_detail(first.order_no, BUYER)
    assert detail is not None
    text = detail.text(START)
    assert "请在10:30前完成支付" in text and "· 法式碎花连衣裙（颜色:红色，尺码:M） ×1 ¥159.00" in text
    assert "实付：¥159.00" in text


def test_write_lock_is_not_held_after_a_failed_order(shop: Shop) -> None:
    """An exception inside create_order's transaction must leave the database usable from other threads."""
    with pytest.raises(OutOfStock):
        order(shop, (shop.dress, 50))
    done = threading.Event()

    def other() -> None:
        with write_transaction():
            Sku.update(stock=Sku.stock).where(Sku.id == shop.dress).execute()
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(10)
    assert done.is_set()
