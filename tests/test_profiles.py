"""Member profiles against a real database on a fixed clock: RFM scores (quintiles and configured edges),
lifecycle stages, attributes; segments over them (bought a category lately, tier at least); a campaign queued once
per member through the outbox, its dry run and results."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.features import cron_entries, job_functions
from bot.features.profiles import job_deps
from bot.process.config import Config
from scheduler.jobs import JobDeps
from scheduler.profile_jobs import rebuild_member_profiles
from store.core.clock import ManualClock
from store.core.db import close_database, open_database, write_transaction
from store.members.accounts import Member
from store.members.followers import Follower
from store.orders.addresses import Address
from store.orders.checkout import Order, OrderLine
from store.outbox.notices import SENT, Notice
from store.outbox.template_lint import TemplateLintError
from store.profiles.campaign_results import campaign_result
from store.profiles.campaigns import CampaignError, create_campaign, dry_run, start_campaign
from store.profiles.compute import lifecycle_counts, rebuild_profiles, rfm_counts
from store.profiles.events import Event, store_events
from store.profiles.models import BehaviourEvent, MemberProfile
from store.profiles.rules import ProfileRules
from store.profiles.segments import SegmentError, parse_rule, preview, save_segment
from tests.member_support import START, follower, pay
from tests.order_support import make_shop
from tests.support import wxshop

NOW = START + timedelta(days=400)


@pytest.fixture
def db(migrated: Config) -> Iterator[None]:
    open_database(migrated.database.url, migrated.var_dir)
    yield
    close_database()


def bought(openid: str, sku_id: int, fen: int, ref: str, days_ago: int) -> None:
    at = NOW - timedelta(days=days_ago)
    with write_transaction():
        order = Order.create(
            order_no=f"O{ref}", openid=openid, title="t", subtotal_fen=fen, payable_fen=fen, created_at=at,
            expires_at=at, paid_at=at, status="paid",
        )  # fmt: skip
        OrderLine.create(
            order=order, sku_id=sku_id, sku_code="x", title="t", unit_price_fen=fen, quantity=1, subtotal_fen=fen,
            discounted_fen=fen, paid_fen=fen,
        )  # fmt: skip
    pay(openid, fen, ref, at)


def population() -> None:
    """Ten buyers of rising value and recency, a lapsed one, a churned one, a new and an old non-buyer."""
    shop = make_shop()
    for i in range(10):
        follower(f"b{i}", NOW - timedelta(days=300), birthday=f"{i + 1:02d}-15")
        for n in range(1 + i // 3):
            bought(f"b{i}", shop.dress, 10000 * (i + 1), f"b{i}n{n}", days_ago=10 - i + n)
    follower("lapsed", NOW - timedelta(days=300))
    bought("lapsed", shop.tee, 5000, "l1", days_ago=90)
    follower("gone", NOW - timedelta(days=399))
    bought("gone", shop.card, 5000, "g1", days_ago=200)
    follower("new", NOW - timedelta(days=3))
    follower("old", NOW - timedelta(days=399))
    with write_transaction():
        Address.create(openid="b9", name="张三", phone="13800000000", region="广东省 深圳市 南山区", detail="1号",
                       created_at=NOW, last_used_at=NOW)  # fmt: skip
        Member.update(tier="vip").where(Member.openid.in_(["b8", "lapsed"])).execute()
        Member.update(tier="black_gold").where(Member.openid == "b9").execute()


def profile(openid: str) -> MemberProfile:
    return MemberProfile.get(MemberProfile.openid == openid)


def test_rfm_quintiles_lifecycle_and_attributes(db: None) -> None:
    population()
    assert rebuild_profiles(ProfileRules(), NOW) == 14
    assert lifecycle_counts() == {"成长": 6, "成熟": 4, "衰退": 1, "流失": 2, "引入": 1}
    b9, b0 = profile("b9"), profile("b0")
    assert (b9.r_score, b9.f_score, b9.m_score) == (5, 5, 5)
    assert b9.frequency == 4 and b9.monetary_fen == 400000 and b9.lifecycle == "成熟"
    assert (b9.region, b9.birthday_month, b9.tier) == ("广东省", 10, "black_gold")
    assert b0.m_score < b9.m_score and b0.lifecycle == "成长"
    assert (profile("new").r_score, profile("new").lifecycle) == (0, "引入")
    assert profile("old").lifecycle == "流失" and profile("gone").lifecycle == "流失"
    counts = rfm_counts()
    assert counts["R"][0] == 2 and sum(counts["R"].values()) == 14
    assert sum(n for score, n in counts["M"].items() if score) == 12
    # Rebuilt: the same profiles, not twice as many.
    assert rebuild_profiles(ProfileRules(), NOW) == 14 and MemberProfile.select().count() == 14


def test_configured_edges(db: None) -> None:
    population()
    rules = ProfileRules(recency_days_edges=(7, 30, 60, 120), frequency_edges=(1, 2, 3, 4),
                         monetary_fen_edges=(10000, 50000, 100000, 300000), lapse_days=30, churn_days=100)  # fmt: skip
    rebuild_profiles(rules, NOW)
    lapsed = profile("lapsed")
    assert (lapsed.r_score, lapsed.f_score, lapsed.m_score, lapsed.lifecycle) == (2, 1, 1, "衰退")
    b9 = profile("b9")
    assert (b9.r_score, b9.f_score, b9.m_score) == (5, 4, 5)
    with pytest.raises(ValueError):
        ProfileRules(frequency_edges=(3, 2, 1, 0))


def test_segment_rule_preview_and_category(db: None) -> None:
    population()
    rebuild_profiles(ProfileRules(), NOW)
    rule = parse_rule({"lifecycle": ["衰退"], "bought_category": "服饰", "bought_within_days": 180,
                       "tier_at_least": "vip"})  # fmt: skip
    assert preview(rule, NOW) == 1  # "lapsed": a tee 90 days ago, VIP
    assert preview(parse_rule({"bought_category": "服饰", "bought_within_days": 30}), NOW) == 10
    assert preview(parse_rule({"tier_at_least": "black_gold"}), NOW) == 1
    assert preview(parse_rule({"region": ["广东省"], "birthday_month": [10]}), NOW) == 1
    with pytest.raises(SegmentError) as err:
        parse_rule({"lifecycle": ["沉睡"], "colour": "red", "r_min": 9})
    assert len(err.value.args[0]) == 3


def test_campaign_once_per_member_with_dry_run_and_results(db: None) -> None:
    population()
    rebuild_profiles(ProfileRules(), NOW)
    save_segment("高价值", parse_rule({"m_min": 4}), NOW)
    with pytest.raises(TemplateLintError):
        create_campaign("bad", "高价值", {"subject": "限时秒杀！！", "detail": "x" * 40}, NOW)
    with pytest.raises(CampaignError):
        create_campaign("nowhere", "无此人群", {"subject": "会员权益更新", "detail": "详情请进入公众号查看"}, NOW)
    create_campaign("权益", "高价值", {"subject": "会员权益更新", "detail": "详情请进入公众号查看"}, NOW)
    Follower.update(subscribed=False).where(Follower.openid == "b9").execute()
    targets = MemberProfile.select().where(MemberProfile.m_score >= 4, MemberProfile.openid != "b9").count()
    assert dry_run("权益", NOW) == {"targeted": targets, "already_queued": 0, "would_queue": targets}
    assert Notice.select().where(Notice.kind == "campaign").count() == 0  # a dry run queues nothing
    assert start_campaign("权益", NOW) == targets
    assert start_campaign("权益", NOW + timedelta(hours=1)) == 0  # started again: nobody twice
    rows = list(Notice.select().where(Notice.kind == "campaign"))
    assert len({n.openid for n in rows}) == len(rows) == targets and "b9" not in {n.openid for n in rows}
    assert json.loads(rows[0].fields)["subject"] == "会员权益更新"
    Notice.update(status=SENT).where(Notice.id == rows[0].id).execute()
    result = campaign_result("权益")
    assert (result.targeted, result.queued, result.sent, result.pending, result.failed) == (
        targets, targets, 1, targets - 1, 0
    )  # fmt: skip


def test_cli_rebuilds_prints_counts_and_saves_a_toml_segment(migrated: Config, env: dict[str, str], tmp_path) -> None:
    open_database(migrated.database.url, migrated.var_dir)
    try:
        population()
    finally:
        close_database()
    clock = {**env, "WXSHOP_CLOCK": f"frozen:{NOW.isoformat()}"}
    rule = tmp_path / "lapsed.toml"
    rule.write_text('lifecycle = ["衰退"]\nbought_category = "服饰"\ntier_at_least = "vip"\n', encoding="utf-8")
    out = wxshop("members", "segments", "--rebuild", env=clock)
    assert out.returncode == 0, out.stderr
    assert "rebuilt 14 profiles" in out.stdout
    assert "lifecycle: 引入 1  成长 6  成熟 4  衰退 1  流失 2" in out.stdout
    saved = wxshop("members", "segment", "回流VIP", str(rule), env=clock)
    assert saved.returncode == 0 and saved.stdout.strip() == "segment 回流VIP: 1 members", saved.stderr
    assert "segment 回流VIP: 1 members" in wxshop("members", "segments", env=clock).stdout
    rule.write_text('lifecycle = ["沉睡"]\n', encoding="utf-8")
    bad = wxshop("members", "segment", "x", str(rule), env=clock)
    assert bad.returncode == 1 and "沉睡" in bad.stderr


async def test_nightly_job_from_config_rebuilds_and_drops_old_events(db: None, migrated: Config) -> None:
    population()
    store_events(
        [Event("b1", "search", "连衣裙", NOW - timedelta(days=91)), Event("b1", "card", "1", NOW - timedelta(days=1))]
    )
    config = dataclasses.replace(
        migrated,
        profiles=dataclasses.replace(migrated.profiles, nightly_at="02:45", lapse_days=30, events_keep_days=90),
    )
    entry = {job.name: job for job in cron_entries(config)}["member-profiles"]
    assert (entry.hour, entry.minute) == (2, 45) and rebuild_member_profiles in job_functions()
    deps = JobDeps(clock=ManualClock(NOW), worker_name="test", profiles=job_deps(config))
    assert await rebuild_member_profiles({"deps": deps}) == {"profiles": 14, "clusters": 6, "events_purged": 1}
    assert profile("b0").lifecycle == "成长" and profile("lapsed").lifecycle == "衰退"
    assert [e.kind for e in BehaviourEvent.select()] == ["card"]
