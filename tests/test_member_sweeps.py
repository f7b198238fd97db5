"""The members' sweeps against a real database on an injected clock: tiers up and down with their notices, the
birthday sweep run twice sends once, points earned, spent, reminded and expired."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.features import cron_entries, job_functions
from bot.process.config import Config
from scheduler.member_jobs import (
    birthday_hours,
    sweep_gifts,
    sweep_member_birthdays,
    sweep_member_tiers,
    sweep_points,
)
from store.core.db import close_database, open_database, write_transaction
from store.members.accounts import Member, MemberRules, PointsEntry, points_balance, spend_points, tier_of
from store.members.birthdays import BirthdayGift, sweep_birthdays, take_greeting
from store.members.points_expiry import expire_points, expiring_within, remind_points
from store.members.tiers import standing, sweep_tiers
from store.orders.checkout import CartLine, ShopRules, quote
from store.orders.pricing import Tier
from store.outbox.notices import Notice
from store.promotions.coupons import Coupon
from tests.member_support import RULES, START, follower, notices, pay, refund, seed
from tests.order_support import make_shop


@pytest.fixture
def db(migrated: Config) -> Iterator[None]:
    open_database(migrated.database.url, migrated.var_dir)
    yield
    close_database()


def tier(openid: str) -> str:
    return Member.get(Member.openid == openid).tier


# -- tiers ---------------------------------------------------------------------------------------------------------


def test_tier_up_on_payment_down_on_refund_with_notices(db: None) -> None:
    pay("o_t", 300000, "T1", START)
    assert tier("o_t") == "normal" and notices("tier_change") == []
    pay("o_t", 200000, "T2", START + timedelta(hours=1))  # 5,000 yuan cumulative
    assert tier("o_t") == "vip"
    assert notices("tier_change") == [
        {"openid": "o_t", "dedup": "tier:o_t:T2", "tier": "VIP会员", "changed_at": "2026-11-24 11:00"}
    ]
    pay("o_t", 4500000, "T3", START + timedelta(hours=2))  # 50,000 yuan within the year
    assert tier("o_t") == "black_gold" and notices("tier_change")[-1]["tier"] == "黑金会员"
    refund("o_t", 4500000, 4500000, "T3", START + timedelta(hours=3))
    assert tier("o_t") == "vip"
    assert [n["tier"] for n in notices("tier_change")] == ["VIP会员", "黑金会员", "VIP会员"]
    assert sweep_tiers(START + timedelta(hours=4), RULES) == [], "payments already brought the tier in line"


def test_nightly_sweep_downgrades_when_the_year_lapses(db: None) -> None:
    pay("o_bg", 5000000, "B1", START)
    pay("o_vip", 600000, "V1", START)
    assert tier("o_bg") == "black_gold" and tier("o_vip") == "vip"
    later = START + timedelta(days=366)
    assert tier_of("o_bg", later, RULES) == Tier.VIP, "pricing follows the rule at once"
    changed = sweep_tiers(later, RULES)
    assert changed == [("o_bg", "vip")]
    assert tier("o_bg") == "vip"
    assert notices("tier_change")[-1] == {
        "openid": "o_bg",
        "dedup": "tier:o_bg:sweep20271125:vip",
        "tier": "VIP会员",
        "changed_at": "2027-11-25 10:00",
    }
    assert sweep_tiers(later, RULES) == [] and len(notices("tier_change", "o_bg")) == 2, "a re-run changes nothing"


def test_calendar_year_resets_on_the_first_of_january(db: None) -> None:
    rules = MemberRules(tier_year="calendar")
    pay("o_cal", 5000000, "C1", START, rules)
    assert sweep_tiers(START.replace(month=12, day=31, hour=23), rules) == []
    assert sweep_tiers(START.replace(year=2027, month=1, day=1, hour=3), rules) == [("o_cal", "vip")]


def test_standing_shows_the_way_to_the_next_tier(db: None) -> None:
    pay("o_s", 100000, "S1", START)
    mine = standing("o_s", START, RULES)
    assert (mine.tier, mine.next_tier, mine.missing_fen, round(mine.progress, 2)) == (
        Tier.NORMAL,
        Tier.VIP,
        400000,
        0.2,
    )
    pay("o_s", 900000, "S2", START)
    mine = standing("o_s", START, RULES)
    assert (mine.tier, mine.next_tier, mine.missing_fen) == (Tier.VIP, Tier.BLACK_GOLD, 4000000)


# -- birthdays -----------------------------------------------------------------------------------------------------


def test_birthday_sweep_run_twice_sends_once(db: None) -> None:
    seed()
    follower("o_b1", START - timedelta(days=30), birthday="11-24")
    follower("o_b2", START - timedelta(days=30), birthday="11-25")
    follower("o_b3", START - timedelta(days=30), birthday="11-24")
    at_nine = START.replace(hour=9)
    first = sweep_birthdays(at_nine, "BDAY30")
    assert (first.new, first.coupons, first.notices) == (2, 2, 2) and sorted(first.greet) == ["o_b1", "o_b3"]
    again = sweep_birthdays(at_nine + timedelta(hours=1), "BDAY30")
    assert (again.new, again.coupons, again.notices) == (0, 0, 0)
    assert [n["openid"] for n in notices("birthday")] == ["o_b1", "o_b3"]
    assert notices("birthday")[0] == {
        "openid": "o_b1",
        "dedup": "birthday:2026:o_b1",
        "member": "尊敬的会员",
        "date": "2026-11-24",
    }
    gift = Coupon.get(Coupon.openid == "o_b1")
    assert gift.source == "birthday" and gift.code == f"BD2026-{BirthdayGift.get(BirthdayGift.openid == 'o_b1').id}"
    assert gift.expires_at == at_nine + timedelta(days=30)
    assert Coupon.select().where(Coupon.openid == "o_b2").count() == 0

    greeting = take_greeting("o_b1", at_nine + timedelta(hours=2))
    assert greeting is not None and "生日快乐" in greeting.text() and "满199减30" in greeting.text()
    assert take_greeting("o_b1", at_nine + timedelta(hours=3)) is None, "shown once"
    assert "o_b1" not in sweep_birthdays(at_nine + timedelta(hours=4), "BDAY30").greet

    next_year = at_nine.replace(year=2027)
    assert sweep_birthdays(next_year, "BDAY30").new == 2, "once per member per year"


def test_leap_day_birthdays_on_28_february(db: None) -> None:
    seed()
    follower("o_leap", START, birthday="02-29")
    assert sweep_birthdays(START.replace(year=2027, month=2, day=28, hour=9), "BDAY30").new == 1
    assert sweep_birthdays(START.replace(year=2028, month=2, day=28, hour=9), "BDAY30").new == 0
    assert sweep_birthdays(START.replace(year=2028, month=2, day=29, hour=9), "BDAY30").new == 1


# -- points --------------------------------------------------------------------------------------------------------


def test_points_earned_spent_reminded_and_expired(db: None) -> None:
    assert pay("o_p", 50000, "P1", START) == 500  # 1 point per yuan
    assert pay("o_p", 30000, "P2", START + timedelta(days=100)) == 300
    with write_transaction():
        spend_points("o_p", 200, "ORD1", START + timedelta(days=120))  # taken from the oldest (P1) first
    assert points_balance("o_p") == 600

    soon = expiring_within("o_p", START + timedelta(days=340), 30)
    assert (soon.points, soon.first_at) == (300, START + timedelta(days=365))

    day = START + timedelta(days=358)
    assert remind_points(day, 7) == 1
    assert notices("points_expiry") == [
        {"openid": "o_p", "dedup": "points_expiry:o_p:20271124", "points": "300", "expires_at": "2027-11-24"}
    ]
    assert remind_points(day, 7) == 0, "a re-run of the same day queues nothing"
    assert remind_points(day + timedelta(days=1), 7) == 0, "already reminded of those points"

    assert expire_points(START + timedelta(days=364)).points == 0
    run = expire_points(START + timedelta(days=365))
    assert (run.members, run.points) == (1, 300) and points_balance("o_p") == 300
    assert expire_points(START + timedelta(days=365)).points == 0, "idempotent"
    assert expire_points(START + timedelta(days=400)).points == 0
    entries = PointsEntry.select().where(PointsEntry.openid == "o_p", PointsEntry.reason == "expire")
    assert [e.delta for e in entries] == [-300]

    assert remind_points(START + timedelta(days=458), 7) == 1
    assert notices("points_expiry")[-1]["points"] == "300"
    assert expire_points(START + timedelta(days=466)).points == 300 and points_balance("o_p") == 0


def test_expiry_never_takes_more_than_the_balance(db: None) -> None:
    pay("o_q", 10000, "Q1", START)
    with write_transaction():
        Member.update(points=40).where(Member.openid == "o_q").execute()  # an operator adjustment
    assert expire_points(START + timedelta(days=366)).points == 40
    assert points_balance("o_q") == 0
    assert Notice.select().where(Notice.kind == "points_expiry").count() == 0


def test_pricing_uses_the_tier_the_rule_gives_now(db: None) -> None:
    shop = make_shop()
    pay("o_price", 5000000, "PR1", START)
    rules = ShopRules()
    assert quote("o_price", [CartLine(shop.dress, 1)], [], 0, START, rules=rules).priced.tier == Tier.BLACK_GOLD
    later = START + timedelta(days=366)
    assert quote("o_price", [CartLine(shop.dress, 1)], [], 0, later, rules=rules).priced.tier == Tier.VIP
    assert tier("o_price") == "black_gold", "until the nightly sweep tells the member"
    assert quote("o_nobody", [CartLine(shop.dress, 1)], [], 0, later, rules=rules).priced.tier == Tier.NORMAL


def test_cron_table_runs_the_member_sweeps_on_shanghai_hours(config: Config) -> None:
    config = dataclasses.replace(config, shop=dataclasses.replace(config.shop, birthday_sweep_at="08:30"))
    jobs = {job.name: job for job in cron_entries(config)}
    birthdays = jobs["member-birthdays"]
    assert (birthdays.hour, birthdays.minute) == (set(range(8, 22)), 30)
    assert (jobs["member-tiers"].hour, jobs["member-points"].hour) == (3, 3)
    assert jobs["member-gifts"].minute == set(range(2, 60, 5))
    assert {sweep_gifts, sweep_member_birthdays, sweep_member_tiers, sweep_points} <= set(job_functions())
    assert birthday_hours("23:15") == ({23}, 15)
