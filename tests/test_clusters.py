"""The night's clusters on a real database: B scores from behaviour events, k-means over R, F, M and B that gives
the same clusters every run, clusters described in words, a segment that is a cluster, the CLI and the admin API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.process.config import Config
from store.catalog.products import Category, Product, Sku
from store.core.clock import ManualClock
from store.core.db import close_database, open_database, write_transaction
from store.profiles.clusters import recompute_clusters, stored_clusters
from store.profiles.compute import rebuild_profiles, rfm_counts
from store.profiles.events import Event, store_events
from store.profiles.models import ClusterCell, MemberProfile
from store.profiles.rules import ProfileRules
from store.profiles.segments import parse_rule, preview
from tests.gateway_support import running
from tests.member_support import follower
from tests.order_support import make_shop
from tests.support import wxshop
from tests.test_engine import TOKEN, with_admin
from tests.test_profiles import NOW, bought

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def db(migrated: Config) -> Iterator[None]:
    open_database(migrated.database.url, migrated.var_dir)
    yield
    close_database()


def shoppers() -> None:
    """Loyal buyers of dresses (many small orders, recent), big spenders on cards (one large order each, long
    ago), and browsers who never paid but look at dresses a lot."""
    shop = make_shop()
    with write_transaction():  # the gift cards move to a category of their own
        digital = Category.create(name="数码", level=1, path="数码")
        Product.update(category=digital).where(Product.id == Sku.get_by_id(shop.card).product_id).execute()
    dress_product = Sku.get_by_id(shop.dress).product_id
    events = []
    for i in range(8):
        follower(f"loyal{i}", NOW - timedelta(days=300))
        for n in range(6):
            bought(f"loyal{i}", shop.dress, 5000, f"l{i}n{n}", days_ago=1 + n * 5)
    for i in range(6):
        follower(f"big{i}", NOW - timedelta(days=300))
        bought(f"big{i}", shop.card, 300000, f"g{i}", days_ago=100 + i)
    for i in range(10):
        follower(f"look{i}", NOW - timedelta(days=20))
        events += [Event(f"look{i}", "card", str(dress_product), NOW - timedelta(days=d)) for d in range(1, 12)]
    store_events(events)


def test_behaviour_scores_and_reproducible_clusters_described_in_words(db: None) -> None:
    shoppers()
    assert rebuild_profiles(ProfileRules(), NOW) == 24
    look, loyal = MemberProfile.get_by_id("look0"), MemberProfile.get_by_id("loyal0")
    assert (look.events, look.b_score, look.f_score) == (11, 5, 0)  # every browser has 11: ties share the top score
    assert (loyal.events, loyal.b_score) == (0, 0)
    assert rfm_counts()["B"] == {0: 14, 5: 10}

    first = recompute_clusters(3, 7, NOW)
    again = recompute_clusters(3, 7, NOW)
    assert first == again == stored_clusters()
    assert [c.number for c in first] == [1, 2, 3] and sum(c.size for c in first) == 24
    by_label = {c.label: c for c in first}
    assert set(by_label) == {"低频高客单 · 数码", "高频低客单 · 服饰", "未购 · 爱逛 · 服饰"}, by_label
    big = by_label["低频高客单 · 数码"]
    assert (big.number, big.size, big.figures["order_value_fen"]) == (1, 6, 300000)
    assert big.figures["days_since_paid"] == pytest.approx(102.5) and "久未购买" in big.figures["traits"]
    loyal_cluster = by_label["高频低客单 · 服饰"]
    assert loyal_cluster.figures["orders_per_buyer"] == 6 and "近期活跃" in loyal_cluster.figures["traits"]
    browsers = by_label["未购 · 爱逛 · 服饰"]  # the category from what they looked at
    assert browsers.size == 10 and browsers.figures["buyers"] == 0 and browsers.centroid["b"] == 5
    assert "未购 · 爱逛 · 服饰：10 人（42%）" in browsers.describe()

    # a segment that is a cluster: exactly its members, found through the cells' table
    assert preview(parse_rule({"cluster": [loyal_cluster.number]}), NOW) == 8
    assert preview(parse_rule({"cluster": [1, 2, 3]}), NOW) == 24
    assert preview(parse_rule({"b_min": 5}), NOW) == 10
    assert ClusterCell.select().count() == len({(p.r_score, p.f_score, p.m_score, p.b_score)
                                                for p in MemberProfile.select()})  # fmt: skip


def test_no_profiles_no_clusters_and_one_cell_one_cluster(db: None) -> None:
    assert recompute_clusters(4, 7, NOW) == [] and stored_clusters() == []
    follower("solo", NOW - timedelta(days=3))
    rebuild_profiles(ProfileRules(), NOW)
    (only,) = recompute_clusters(4, 7, NOW)
    assert (only.number, only.label, only.size) == (1, "未购", 1)


def test_cli_prints_the_clusters(migrated: Config, env: dict[str, str]) -> None:
    open_database(migrated.database.url, migrated.var_dir)
    try:
        shoppers()
    finally:
        close_database()
    clock = {**env, "WXSHOP_CLOCK": f"frozen:{NOW.isoformat()}", "WXSHOP_PROFILES__CLUSTERS": "3"}
    out = wxshop("members", "segments", "--rebuild", env=clock)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("cluster ")]
    assert len(lines) == 3 and lines[0].startswith("cluster 1 低频高客单 · 数码：6 人（25%）"), out.stdout
    assert "B: 0:14  1:0  2:0  3:0  4:0  5:10" in out.stdout


async def test_admin_api_lists_clusters_and_saves_a_cluster_segment(migrated: Config) -> None:
    open_database(migrated.database.url, migrated.var_dir)
    try:
        shoppers()
        rebuild_profiles(ProfileRules(), NOW)
        recompute_clusters(3, 7, NOW)
    finally:
        close_database()
    async with running(with_admin(migrated), ManualClock(NOW)) as shop:
        url = shop.server.make_url
        response = await shop.session.get(url("/admin/api/clusters"), headers=AUTH)
        assert response.status == 200
        clusters = (await response.json())["clusters"]
        assert [(c["number"], c["size"]) for c in clusters] == [(1, 6), (2, 8), (3, 10)]
        assert clusters[1]["label"] == "高频低客单 · 服饰" and clusters[1]["centroid"]["f"] > 0
        saved = await shop.session.put(url("/admin/api/segments/常客"), headers=AUTH, json={"cluster": [2]})
        assert saved.status == 200 and (await saved.json())["size"] == 8
        bad = await shop.session.post(url("/admin/api/segments/preview"), headers=AUTH, json={"cluster": [0]})
        assert bad.status == 422
