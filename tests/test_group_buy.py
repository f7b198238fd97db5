"""拼团 at the store level, on SQLite and PostgreSQL: a group starts only when its leader pays, fills exactly at
its size however many joiners and payments race, refunds a payment that lands after it closed, and when its window
ends unfilled refunds every payment exactly once without ever letting a refused refund look paid."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.process.config import Config
from store.catalog.inventory import stock_of
from store.core.db import open_database
from store.group_buy.models import FAILED, FULL, OPEN, PENDING, VOID, Group, GroupMember
from store.group_buy.operations import GroupClosed, LimitReached, OfferInput, join_group, set_offer, start_group
from store.group_buy.sweeps import fail_expired, refund_no_for, refunds_owed, release_places, void_unstarted
from store.members.accounts import MemberRules
from store.orders.checkout import (
    CANCELLED,
    GROUP_FAILED,
    GROUPING,
    PAID,
    REFUNDED,
    Order,
    cancel_if_unpaid,
)
from store.orders.payments import LATE_PAYMENT, Payment, PaymentOutcome, Refund, mark_paid
from store.orders.refunds import refund_failed, refund_succeeded
from store.outbox.notices import Notice
from store.outbox.template_lint import lint_template_data
from store.outbox.templates import parse_templates
from tests.order_support import HOME, RULES, START, Shop, make_shop, race

MEMBERS = MemberRules()
GROUP_TEMPLATES = {
    "group_full": {"template_id": "TPL_GROUP_FULL", "fields": {
        "group_no": "character_string1", "goods": "thing2", "members": "number3", "formed_at": "time4"}},
    "group_failed": {"template_id": "TPL_GROUP_FAILED", "fields": {
        "group_no": "character_string1", "goods": "thing2", "amount": "amount3", "closed_at": "time4"}},
}  # fmt: skip
LEADER = "o_leader_0001"


@pytest.fixture
def shop(migrated: Config) -> Shop:
    open_database(migrated.database.url, migrated.var_dir)
    made = make_shop(dress_stock=50)
    set_offer(OfferInput(made.dress, size=3, window_hours=48, price_fen=9900), START)
    return made


def pay(order: Order, txn: str | None = None, now=START):  # type: ignore[no-untyped-def]
    return mark_paid(order.order_no, txn or f"42{order.order_no}", order.payable_fen, now, rules=MEMBERS)


def opened(shop: Shop) -> Group:
    group, order = start_group(LEADER, shop.dress, HOME, START, rules=RULES)
    assert order.payable_fen == 9900, "the group price, no member discount or 满减 on top"
    assert pay(order).outcome == PaymentOutcome.PAID
    return Group.get_by_id(group.id)


def test_a_group_starts_when_its_leader_pays_and_fills_at_its_size(shop: Shop) -> None:
    group, order = start_group(LEADER, shop.dress, HOME, START, rules=RULES)
    assert Group.get_by_id(group.id).status == PENDING
    with pytest.raises(GroupClosed):
        join_group("o_friend_1", group.group_no, HOME, START, rules=RULES)
    pay(order)
    group = Group.get_by_id(group.id)
    assert (group.status, group.paid, group.expires_at) == (OPEN, 1, START + timedelta(hours=48))
    assert Order.get_by_id(order.id).status == GROUPING
    later = START + timedelta(hours=1)
    _, first = join_group("o_friend_1", group.group_no, HOME, later, rules=RULES)
    pay(first, now=later)
    assert Order.get_by_id(first.id).status == GROUPING
    assert Notice.select().where(Notice.kind == "group_full").count() == 0
    _, last = join_group("o_friend_2", group.group_no, HOME, later, rules=RULES)
    pay(last, now=later)
    assert Group.get_by_id(group.id).status == FULL
    members = [m.order_no for m in GroupMember.select().where(GroupMember.group == group.id)]
    assert [Order.get(Order.order_no == n).status for n in members] == [PAID, PAID, PAID], "to shipping"
    told = sorted(n.openid for n in Notice.select().where(Notice.kind == "group_full"))
    assert told == sorted([LEADER, "o_friend_1", "o_friend_2"]), "one notice each"
    assert stock_of(shop.dress) == 47
    # The notice's fields fill a category template and pass the template linter.
    spec = parse_templates(GROUP_TEMPLATES)["group_full"]
    lint_template_data(spec.data(json.loads(Notice.select().where(Notice.kind == "group_full").first().fields)))


def test_the_leaders_group_does_not_start_when_the_leader_does_not_pay(shop: Shop) -> None:
    group, order = start_group(LEADER, shop.dress, HOME, START, rules=RULES)
    assert cancel_if_unpaid(order.order_no, START + timedelta(minutes=31), reason="timeout")
    assert void_unstarted(START + timedelta(minutes=32)) == 1
    assert Group.get_by_id(group.id).status == VOID
    late = pay(order, now=START + timedelta(minutes=33))  # the leader's payment lands after all
    assert late.outcome == PaymentOutcome.REFUND
    assert Group.get_by_id(group.id).status == VOID and Group.get_by_id(group.id).paid == 0
    with pytest.raises(GroupClosed):
        join_group("o_friend_1", group.group_no, HOME, START, rules=RULES)


def test_concurrent_joiners_never_overfill_a_group(shop: Shop) -> None:
    group = opened(shop)
    results = race(8, 12, lambda i: join_group(f"o_friend_{i:02d}", group.group_no, HOME, START, rules=RULES))
    joined = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, GroupClosed)]
    assert (len(joined), len(refused)) == (2, 10), results
    assert Group.get_by_id(group.id).seats == 3
    assert stock_of(shop.dress) == 50 - 3, "refused joiners took no stock"
    outcomes = race(2, 2, lambda i: pay(joined[i][1]).outcome)
    assert outcomes == [PaymentOutcome.PAID, PaymentOutcome.PAID]
    assert Group.get_by_id(group.id).status == FULL and Group.get_by_id(group.id).paid == 3


def test_concurrent_payments_past_the_size_are_refunded_not_admitted(shop: Shop) -> None:
    """Places freed by cancelled orders are re-taken; if both a re-taken place and a revived payment race, the
    group still admits exactly `size` payments and refunds the rest."""
    group = opened(shop)
    _, a = join_group("o_friend_a", group.group_no, HOME, START, rules=RULES)
    _, b = join_group("o_friend_b", group.group_no, HOME, START, rules=RULES)
    # a's order is cancelled by the buyer, which frees its place for c; then a's payment lands anyway.
    assert cancel_if_unpaid(a.order_no, START)
    assert release_places(START) == 1
    _, c = join_group("o_friend_c", group.group_no, HOME, START, rules=RULES)
    outcomes = race(3, 3, lambda i: pay((a, b, c)[i]).outcome)
    assert outcomes == [PaymentOutcome.REFUND, PaymentOutcome.PAID, PaymentOutcome.PAID]
    group = Group.get_by_id(group.id)
    assert (group.status, group.paid) == (FULL, 3)
    assert Refund.get(Refund.order_no == a.order_no).kind == LATE_PAYMENT


def test_a_payment_after_the_group_closed_is_refunded(shop: Shop) -> None:
    group = opened(shop)
    _, joiner = join_group("o_friend_1", group.group_no, HOME, START, rules=RULES)
    after = START + timedelta(hours=49)
    assert fail_expired(after) == [group.group_no]
    result = pay(joiner, now=after)
    assert result.outcome == PaymentOutcome.REFUND and result.refund_no
    assert Order.get_by_id(joiner.id).status == CANCELLED
    assert Payment.get(Payment.order_no == joiner.order_no).outcome == "refund"
    assert stock_of(shop.dress) == 50 - 1, "the late joiner's unit is back; the leader's waits for its refund"


def test_an_unfilled_group_is_refunded_exactly_once_and_a_refused_refund_never_looks_paid(shop: Shop) -> None:
    group = opened(shop)
    _, joiner = join_group("o_friend_1", group.group_no, HOME, START, rules=RULES)
    pay(joiner)
    assert fail_expired(START + timedelta(hours=47)) == [], "the window is not over"
    after = START + timedelta(hours=48)
    results = race(4, 4, lambda i: fail_expired(after))
    assert sorted(len(r) for r in results) == [0, 0, 0, 1], results  # type: ignore[arg-type]
    assert Group.get_by_id(group.id).status == FAILED
    requested = race(4, 4, lambda i: refunds_owed(after))
    assert not [r for r in requested if isinstance(r, BaseException)], requested
    assert {no for batch in requested for no in batch} == {refund_no_for(m.order_no) for m in GroupMember.select()}  # type: ignore[union-attr]
    assert refunds_owed(after) == [], "exactly once"
    assert Refund.select().count() == 2, "one refund per payment, however many sweeps raced"
    told = sorted(n.openid for n in Notice.select().where(Notice.kind == "group_failed"))
    assert told == sorted([LEADER, "o_friend_1"])
    spec = parse_templates(GROUP_TEMPLATES)["group_failed"]
    lint_template_data(spec.data(json.loads(Notice.select().where(Notice.kind == "group_failed").first().fields)))
    leader_order = Order.get(Order.openid == LEADER)
    assert refund_failed(refund_no_for(leader_order.order_no), "NOTENOUGH: 余额不足", after, MEMBERS)
    assert Order.get_by_id(leader_order.id).status == GROUP_FAILED, "a refused refund leaves it owed, not paid"
    assert refund_succeeded(refund_no_for(joiner.order_no), after, MEMBERS)
    assert Order.get_by_id(joiner.id).status == REFUNDED


def test_the_limit_per_follower(shop: Shop) -> None:
    opened(shop)
    with pytest.raises(LimitReached):
        start_group(LEADER, shop.dress, HOME, START, rules=RULES)
