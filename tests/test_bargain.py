"""砍价 at the store level, on SQLite and PostgreSQL: the cuts split the discount so the floor is reached exactly at
the last helper however many friends race, never below it; one cut per friend (by openid, so unfollowing and
following again does not give a second one) however often a friend's request is retried at once; buying at the
current price; the expiry sweep; and the starter's notices, collapsed while waiting to go out."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.process.config import Config
from store.bargain.models import COMPLETE, EXPIRED, OPEN, ORDERED, Bargain, BargainCut
from store.bargain.notices import CUT_NOTICE_GAP
from store.bargain.operations import (
    AlreadyCut,
    BargainClosed,
    LimitReached,
    NotFollower,
    NothingToBuy,
    OfferInput,
    OwnBargain,
    buy,
    cut,
    set_offer,
    start_bargain,
)
from store.bargain.split import split_cuts
from store.bargain.sweeps import expire_bargains
from store.core.db import open_database, write_transaction
from store.members.followers import record_follow
from store.members.privacy import forget_follower
from store.orders.checkout import UNPAID, Order, cancel_if_unpaid
from store.outbox.notices import DROPPED, PENDING, Notice
from store.outbox.template_lint import lint_template_data
from store.outbox.templates import parse_templates
from tests.order_support import HOME, RULES, START, Shop, make_shop, race

STARTER = "o_kj_starter"
BARGAIN_TEMPLATES = {
    "bargain_cut": {"template_id": "TPL_BARGAIN_CUT", "fields": {
        "goods": "thing1", "price": "amount2", "helped": "number3", "left": "number4", "cut_at": "time5"}},
    "bargain_complete": {"template_id": "TPL_BARGAIN_DONE", "fields": {
        "goods": "thing1", "price": "amount2", "helped": "number3", "completed_at": "time4"}},
}  # fmt: skip


@pytest.fixture
def shop(migrated: Config) -> Shop:
    open_database(migrated.database.url, migrated.var_dir)
    made = make_shop(dress_stock=50)  # the dress costs 159.00
    set_offer(OfferInput(made.dress, floor_fen=9900, helpers=5, window_hours=24), START)
    with write_transaction():
        for i in range(40):
            record_follow(f"o_kj_friend{i:02d}", START, None)
    return made


def friend(i: int) -> str:
    return f"o_kj_friend{i:02d}"


def test_the_split_is_positive_sums_to_the_discount_and_is_fixed_by_the_seed() -> None:
    for total, helpers, seed in ((6000, 5, 1), (5, 5, 2), (100000, 37, 3), (7, 1, 4)):
        cuts = split_cuts(total, helpers, seed)
        assert sum(cuts) == total and len(cuts) == helpers and min(cuts) >= 1
        assert cuts == split_cuts(total, helpers, seed) and cuts == sorted(cuts, reverse=True)
    assert split_cuts(6000, 5, 1) != split_cuts(6000, 5, 2)
    with pytest.raises(ValueError):
        split_cuts(4, 5, 1)


def test_an_offer_must_leave_a_fen_per_helper(shop: Shop) -> None:
    with pytest.raises(ValueError, match="at least 1 fen per helper"):
        set_offer(OfferInput(shop.dress, floor_fen=15898, helpers=5, window_hours=24), START)
    with pytest.raises(ValueError, match="helpers"):
        set_offer(OfferInput(shop.dress, floor_fen=9900, helpers=0, window_hours=24), START)


def test_friends_cut_to_the_floor_exactly_at_the_last_helper(shop: Shop) -> None:
    bargain = start_bargain(STARTER, shop.dress, START, seed=7)
    assert (bargain.price_fen, bargain.status) == (15900, OPEN)
    expected = split_cuts(15900 - 9900, 5, 7)
    prices = []
    for i in range(5):
        done = cut(bargain.bargain_no, friend(i), START + timedelta(minutes=i))
        assert done.amount_fen == expected[i] and done.seq == i + 1
        prices.append(done.bargain.price_fen)
    assert prices[-1] == 9900 and prices == sorted(prices, reverse=True)
    assert Bargain.get_by_id(bargain.id).status == COMPLETE
    with pytest.raises(BargainClosed):
        cut(bargain.bargain_no, friend(5), START)
    assert Notice.select().where(Notice.kind == "bargain_complete").count() == 1
    cut_notices = list(Notice.select().where(Notice.kind == "bargain_cut"))
    assert [n.status for n in cut_notices] == [DROPPED], "the waiting progress notice gave way to the completion"
    specs = parse_templates(BARGAIN_TEMPLATES)
    done_notice = Notice.get(Notice.kind == "bargain_complete")
    assert done_notice.openid == STARTER and done_notice.values()["price"] == "¥99.00"
    lint_template_data(specs["bargain_complete"].data(done_notice.values()))
    lint_template_data(specs["bargain_cut"].data(cut_notices[0].values()))


def test_cut_notices_are_collapsed_while_waiting_and_spaced_out(shop: Shop) -> None:
    bargain = start_bargain(STARTER, shop.dress, START, seed=3)
    cut(bargain.bargain_no, friend(0), START)
    cut(bargain.bargain_no, friend(1), START + timedelta(minutes=1))
    waiting = list(Notice.select().where(Notice.kind == "bargain_cut"))
    assert len(waiting) == 1 and waiting[0].values()["helped"] == "2" and waiting[0].values()["left"] == "3"
    Notice.update(status="sent").where(Notice.id == waiting[0].id).execute()  # the dispatcher sent it
    cut(bargain.bargain_no, friend(2), START + timedelta(minutes=2))
    later = Notice.select().where(Notice.kind == "bargain_cut", Notice.status == PENDING).get()
    assert later.due_at == START + CUT_NOTICE_GAP, "no sooner than the gap after the previous one"
    assert json.loads(later.fields)["helped"] == "3"


def test_a_friend_cuts_once_even_after_unfollowing_and_following_again(shop: Shop) -> None:
    bargain = start_bargain(STARTER, shop.dress, START, seed=1)
    with pytest.raises(OwnBargain):
        cut(bargain.bargain_no, STARTER, START)
    cut(bargain.bargain_no, friend(0), START)
    forget_follower(friend(0), START + timedelta(minutes=1))
    with pytest.raises(NotFollower):
        cut(bargain.bargain_no, friend(0), START + timedelta(minutes=2))
    with write_transaction():
        record_follow(friend(0), START + timedelta(minutes=3), f"kj_{bargain.bargain_no}")
    with pytest.raises(AlreadyCut):
        cut(bargain.bargain_no, friend(0), START + timedelta(minutes=4))
    assert Bargain.get_by_id(bargain.id).cuts == 1


def test_racing_helpers_reach_exactly_the_floor_never_below(shop: Shop) -> None:
    set_offer(OfferInput(shop.dress, floor_fen=9900, helpers=20, window_hours=24, limit_per_follower=0), START)
    bargain = start_bargain(STARTER, shop.dress, START, seed=11)
    results = race(8, 30, lambda i: cut(bargain.bargain_no, friend(i), START))
    done = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(done) == 20 and all(isinstance(r, BargainClosed) for r in refused), refused
    final = Bargain.get_by_id(bargain.id)
    assert (final.price_fen, final.cuts, final.status) == (9900, 20, COMPLETE)
    amounts = sorted(c.amount_fen for c in BargainCut.select().where(BargainCut.bargain == bargain.id))
    assert amounts == sorted(split_cuts(6000, 20, 11)), "each amount of the split exactly once"
    assert Notice.select().where(Notice.kind == "bargain_complete").count() == 1


def test_one_cut_per_friend_under_concurrent_retries(shop: Shop) -> None:
    bargain = start_bargain(STARTER, shop.dress, START, seed=5)
    results = race(8, 16, lambda i: cut(bargain.bargain_no, friend(i % 2), START))
    done = [r for r in results if not isinstance(r, BaseException)]
    assert len(done) == 2, results
    assert all(isinstance(r, AlreadyCut) for r in results if isinstance(r, BaseException)), results
    assert Bargain.get_by_id(bargain.id).cuts == 2
    assert BargainCut.select().where(BargainCut.bargain == bargain.id).count() == 2


def test_the_starter_buys_at_the_current_price_and_the_bargain_stops(shop: Shop) -> None:
    bargain = start_bargain(STARTER, shop.dress, START, seed=2)
    cut(bargain.bargain_no, friend(0), START)
    now_price = Bargain.get_by_id(bargain.id).price_fen
    bought, order = buy(STARTER, HOME, START + timedelta(minutes=5), rules=RULES)
    assert order.payable_fen == now_price < 15900 and order.status == UNPAID
    assert (bought.status, bought.order_no) == (ORDERED, order.order_no)
    with pytest.raises(BargainClosed):
        cut(bargain.bargain_no, friend(1), START + timedelta(minutes=6))
    assert Order.select().count() == 1


def test_limit_per_follower_and_the_expiry_sweep(shop: Shop) -> None:
    bargain = start_bargain(STARTER, shop.dress, START, seed=2)
    with pytest.raises(LimitReached):
        start_bargain(STARTER, shop.dress, START)
    other = start_bargain(friend(9), shop.dress, START + timedelta(hours=2), seed=2)
    assert expire_bargains(START + timedelta(hours=23, minutes=59)) == 0
    assert expire_bargains(START + timedelta(hours=24)) == 1
    assert expire_bargains(START + timedelta(hours=24)) == 0, "safe to re-run"
    assert Bargain.get_by_id(bargain.id).status == EXPIRED and Bargain.get_by_id(other.id).status == OPEN
    with pytest.raises(BargainClosed):
        cut(bargain.bargain_no, friend(0), START + timedelta(hours=24))


def test_a_bargain_whose_order_was_cancelled_unpaid_can_be_bought_again(shop: Shop) -> None:
    bargain = start_bargain(STARTER, shop.dress, START, seed=4)
    cut(bargain.bargain_no, friend(0), START)
    _, first = buy(STARTER, HOME, START, rules=RULES)
    with pytest.raises(NothingToBuy):
        buy(STARTER, HOME, START, rules=RULES)
    assert cancel_if_unpaid(first.order_no, START + timedelta(minutes=30), "timeout")
    again, second = buy(STARTER, HOME, START + timedelta(minutes=31), rules=RULES)
    assert second.order_no != first.order_no and second.payable_fen == first.payable_fen
    assert again.order_no == second.order_no and again.status == ORDERED
