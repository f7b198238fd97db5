"""分销 at the store level, on SQLite and PostgreSQL: a referred buyer's paid order earns the promoter each line's
paid amount × the SKU's rate (rounded down), once; refunds take back their proportion; the sweep confirms after
the after-sales window (moving its watermark); and a refund racing the confirmation sweep is applied exactly once
whatever the order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.process.config import Config
from store.catalog.products import Sku
from store.commission.ledger import confirm_due, confirmed_through, promoter_of, status_of
from store.commission.models import CONFIRMED, PENDING, REVERSED, Commission, Promoter
from store.commission.promoters import become_promoter, ensure_ticket, followers_brought
from store.commission.reports import earnings, period, settlement, settlement_csv
from store.core.db import open_database, write_transaction
from store.members.accounts import MemberRules
from store.members.followers import record_follow
from store.members.qrcodes import QrCode
from store.orders.checkout import CartLine, Order, OrderLine, create_order
from store.orders.payments import PaymentOutcome, mark_paid
from store.orders.refunds import refund_succeeded, request_refund
from tests.order_support import HOME, RULES, START, Shop, make_shop, race

MEMBERS = MemberRules()
PROMOTER, BUYER, STRANGER = "o_promoter_01", "o_referred_01", "o_stranger_01"
WINDOW = 30


@pytest.fixture
def shop(migrated: Config) -> Shop:
    open_database(migrated.database.url, migrated.var_dir)
    made = make_shop(dress_stock=50)
    with write_transaction():
        Sku.update(commission_bp=1000).where(Sku.id == made.dress).execute()  # 10 %
        Sku.update(commission_bp=333).where(Sku.id == made.tee).execute()  # 3.33 %
    record_follow(PROMOTER, START)
    promoter, _ = become_promoter(PROMOTER, START)
    record_follow(BUYER, START, scene=promoter.scene)
    record_follow(STRANGER, START)
    return made


def paid_order(openid: str, lines: list[tuple[int, int]], txn: str, now=START) -> Order:  # type: ignore[no-untyped-def]
    order = create_order(openid, [CartLine(s, q) for s, q in lines], HOME, [], 0, now, rules=RULES)
    assert mark_paid(order.order_no, txn, order.payable_fen, now, rules=MEMBERS).outcome == PaymentOutcome.PAID
    return order


def refund(order: Order, fen: int, now=START) -> None:  # type: ignore[no-untyped-def]
    done = request_refund(order.order_no, fen, "测试退款", now)
    assert refund_succeeded(done.refund_no, now, MEMBERS)


def test_a_referred_buyers_order_earns_each_line_its_rate_rounded_down_once(shop: Shop) -> None:
    assert promoter_of(BUYER) == PROMOTER and promoter_of(STRANGER) is None and promoter_of(PROMOTER) is None
    order = paid_order(BUYER, [(shop.dress, 1), (shop.tee, 3), (shop.card, 1)], "T1")
    paid = {line.sku_id: line.paid_fen for line in OrderLine.select().where(OrderLine.order == order.id)}
    rows = {c.sku_code: c for c in Commission.select()}
    assert set(rows) == {"P1-M", "P2-L"}, "the gift card has no commission rate: no row"
    assert rows["P1-M"].amount_fen == paid[shop.dress] * 1000 // 10000
    assert rows["P2-L"].amount_fen == paid[shop.tee] * 333 // 10000
    assert paid[shop.tee] * 333 % 10000 != 0, "the tee's line really needed rounding down"
    assert {c.status for c in rows.values()} == {PENDING} and {c.promoter_openid for c in rows.values()} == {PROMOTER}
    again = mark_paid(order.order_no, "T1", order.payable_fen, START, rules=MEMBERS)
    assert again.outcome == PaymentOutcome.DUPLICATE and Commission.select().count() == 2
    paid_order(STRANGER, [(shop.dress, 1)], "T2")
    paid_order(PROMOTER, [(shop.dress, 1)], "T3")
    assert Commission.select().count() == 2, "no referrer, and no commission on one's own orders"
    assert followers_brought(PROMOTER) == 1


def test_partial_refund_reverses_its_share_then_the_window_confirms_the_rest(shop: Shop) -> None:
    order = paid_order(BUYER, [(shop.dress, 2)], "T1")
    (row,) = Commission.select()
    assert row.amount_fen == order.payable_fen * 1000 // 10000
    refund(order, order.payable_fen // 4, START + timedelta(days=2))
    row = Commission.get_by_id(row.line_id)
    assert row.reversed_fen == row.amount_fen * (order.payable_fen // 4) // order.payable_fen and row.status == PENDING
    assert confirm_due(START + timedelta(days=WINDOW) - timedelta(seconds=1), WINDOW) == 0
    assert confirm_due(START + timedelta(days=WINDOW), WINDOW) == 1
    assert confirm_due(START + timedelta(days=WINDOW, hours=1), WINDOW) == 0, "once"
    row = Commission.get_by_id(row.line_id)
    assert status_of(row, confirmed_through()) == CONFIRMED
    mine = earnings(PROMOTER, START + timedelta(days=WINDOW))
    assert (mine.pending_fen, mine.confirmed_fen, mine.reversed_fen, mine.orders) == (
        0, row.amount_fen - row.reversed_fen, row.reversed_fen, 1)  # fmt: skip
    refund(order, order.payable_fen - order.payable_fen // 4, START + timedelta(days=WINDOW + 1))
    row = Commission.get_by_id(row.line_id)
    assert (row.status, row.reversed_fen) == (REVERSED, row.amount_fen), "a refund after confirmation is clawed back"


def test_earnings_this_month_and_the_settlement_report_by_period(shop: Shop) -> None:
    first = paid_order(BUYER, [(shop.dress, 1)], "T1")
    later = START + timedelta(days=10)  # 12月4日: another month
    second = paid_order(BUYER, [(shop.dress, 1)], "T2", now=later)
    refund(second, second.payable_fen, later)
    mine = earnings(PROMOTER, later)
    earned = first.payable_fen * 1000 // 10000
    assert (mine.pending_fen, mine.confirmed_fen, mine.month_fen, mine.orders) == (earned, 0, 0, 2)
    assert mine.reversed_fen == second.payable_fen * 1000 // 10000
    confirm_due(START + timedelta(days=WINDOW), WINDOW)
    start, end = period("2026-11-01", "2026-11-30")
    (line,) = settlement(start, end)
    assert (line.promoter, line.orders, line.earned_fen, line.confirmed_fen, line.pending_fen) == (
        PROMOTER, 1, earned, earned, 0)  # fmt: skip
    csv = settlement_csv(settlement(*period("2026-11-01", "2026-12-31")))
    assert csv.splitlines() == [
        "promoter,orders,earned_fen,reversed_fen,pending_fen,confirmed_fen",
        f"{PROMOTER},2,{earned * 2},{earned},0,{earned}",
    ]
    assert settlement(*period("2026-12-05", "2026-12-31")) == []


def test_the_promoter_code_gets_its_ticket_from_wechat_once(shop: Shop) -> None:
    promoter = Promoter.get(Promoter.openid == PROMOTER)
    assert become_promoter(PROMOTER, START) == (promoter, False)
    calls = []

    def create(payload: dict) -> dict:
        calls.append(payload)
        return {"ticket": "TICKET-1", "url": "http://weixin.qq.com/q/1"}

    code = ensure_ticket(promoter.scene, create)
    assert code is not None and code.ticket == "TICKET-1"
    assert calls == [{"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": promoter.scene}}}]
    assert ensure_ticket(promoter.scene, create).ticket == "TICKET-1" and len(calls) == 1  # type: ignore[union-attr]
    assert ensure_ticket("ch_nobody", create) is None


@pytest.mark.parametrize("share", [1, 2], ids=["full-refund", "half-refund"])
def test_a_refund_racing_the_confirmation_sweep_is_applied_exactly_once(shop: Shop, share: int) -> None:
    orders = [paid_order(BUYER, [(shop.dress, 1)], f"T{i}") for i in range(6)]
    due = START + timedelta(days=WINDOW)
    refunds = [request_refund(o.order_no, o.payable_fen // share, "退款", due) for o in orders]

    def work(i: int) -> object:
        if i % 2:
            return confirm_due(due, WINDOW)
        return refund_succeeded(refunds[i // 2 % len(refunds)].refund_no, due, MEMBERS)

    results = race(4, len(refunds) * 4, work)
    assert not [r for r in results if isinstance(r, BaseException)], results
    amount = orders[0].payable_fen * 1000 // 10000
    reversed_each = amount if share == 1 else amount * (orders[0].payable_fen // 2) // orders[0].payable_fen
    for row in Commission.select():
        assert row.reversed_fen == reversed_each
        assert status_of(row, confirmed_through()) == (REVERSED if share == 1 else CONFIRMED)
    mine = earnings(PROMOTER, due)
    assert mine.reversed_fen == reversed_each * 6 and mine.pending_fen == 0
    assert mine.confirmed_fen == (0 if share == 1 else (amount - reversed_each) * 6)


def test_joining_twice_at_once_makes_one_promoter_and_one_code(shop: Shop) -> None:
    record_follow("o_twice", START)
    results = race(4, 8, lambda i: become_promoter("o_twice", START))
    assert not [r for r in results if isinstance(r, BaseException)], results
    made = [r for r in results if r[1]]  # type: ignore[index]
    assert len(made) == 1 and {r[0].scene for r in results} == {made[0][0].scene}  # type: ignore[index,union-attr]
    assert QrCode.select().where(QrCode.referrer_openid == "o_twice").count() == 1
