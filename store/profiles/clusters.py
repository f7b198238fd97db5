"""The night's clusters (the brief's 聚类分析): k-means over each profile's R, F, M and B scores, described in words.

Every score is 0..5, so the whole population falls into at most 6⁴ = 1,296 cells of equal scores: one GROUP BY
over the profiles gives each cell's size and sums, and k-means runs on the cells weighted by their sizes — every
member counts, nothing is sampled, and a seed makes the result the same on every run over the same profiles. A
member's cluster is its cell's (`ClusterCell`), so a segment "cluster 2" is a join with a table of ≤ 1,296 rows,
and nothing is written per member.

Clusters are numbered by average spend, highest first, and named from how they differ from all buyers: frequency
(高频 / 中频 / 低频, or 未购 when most never paid), order value (高客单 / 中客单 / 低客单) and, where one
top-level category takes at least `DOMINANT_SHARE` of what the cluster bought (or, if it bought nothing, looked
at), that category: "高频低客单 · 服饰"."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import peewee

from store.catalog.products import Category, Product, Sku
from store.core.db import ShanghaiDateTimeField, database, is_sqlite, write_transaction
from store.orders.checkout import Order, OrderLine
from store.profiles.models import BehaviourEvent, ClusterCell, MemberProfile, ProfileCluster

SCORES = ("r_score", "f_score", "m_score", "b_score")
DOMINANT_SHARE = 0.3  # a category named in the label takes at least this share of the cluster's buyers
CATEGORY_DAYS = 365  # purchases (and views) that say which category a cluster leans to
CATEGORY_SAMPLE = 20_000  # members whose purchases and views are read for it
_STAMP = ShanghaiDateTimeField()


@dataclass
class _Cell:
    scores: tuple[int, int, int, int]
    size: int
    buyers: int
    orders: int
    spend_fen: int
    days_since_paid: float  # summed over buyers
    events: int
    cluster: int = 0  # its number, once clustered


@dataclass(frozen=True)
class Cluster:
    number: int
    label: str
    size: int
    share: float
    centroid: dict[str, float]
    figures: dict[str, object] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for the CLI: "1 高频高客单 · 服饰：12,000 人（12%）平均 4.1 单 · 客单 ¥230 · …"."""
        f = self.figures
        parts = [f"{self.number} {self.label}：{self.size:,} 人（{self.share:.0%}）"]
        if f.get("buyers"):
            parts.append(f"平均 {f['orders_per_buyer']:.1f} 单 · 客单 ¥{f['order_value_fen'] / 100:.0f} · "
                         f"距上次购买 {f['days_since_paid']:.0f} 天")  # fmt: skip
        parts.append(f"互动 {f['events_per_member']:.1f} 次")
        if f.get("traits"):
            parts.append("、".join(f["traits"]))  # type: ignore[arg-type]
        centroid = " ".join(f"{k.upper()} {v:.1f}" for k, v in self.centroid.items())
        return " · ".join(parts) + f"（中心 {centroid}）"


def _cells(now: datetime) -> list[_Cell]:
    days = _days_since("last_paid_at", now)
    rows = (
        MemberProfile.select(
            *[getattr(MemberProfile, s) for s in SCORES],
            peewee.fn.COUNT(1),
            peewee.fn.SUM(peewee.Case(None, [(MemberProfile.frequency > 0, 1)], 0)),
            peewee.fn.SUM(MemberProfile.frequency),
            peewee.fn.SUM(MemberProfile.monetary_fen),
            peewee.fn.SUM(days),
            peewee.fn.SUM(MemberProfile.events),
        )
        .group_by(*[getattr(MemberProfile, s) for s in SCORES])
        .order_by(*[getattr(MemberProfile, s) for s in SCORES])  # k-means++ seeding depends on the points' order
        .tuples()
    )
    return [
        _Cell((int(r), int(f), int(m), int(b)), int(n), int(buyers or 0), int(orders or 0), int(spend or 0),
              float(days_sum or 0), int(events or 0))
        for r, f, m, b, n, buyers, orders, spend, days_sum, events in rows
    ]  # fmt: skip


def _days_since(column: str, now: datetime) -> peewee.Node:
    """Whole days from `column` to `now`, as SQL (NULL where it is NULL)."""
    stamp, param = _STAMP.db_value(now), database.param
    if is_sqlite():
        return peewee.SQL(f"julianday({param}) - julianday({column})", (stamp,))
    return peewee.SQL(f"EXTRACT(EPOCH FROM ({param} - {column})) / 86400.0", (stamp,))


def _fit(cells: list[_Cell], k: int, seed: int) -> list[int]:
    """Each cell's cluster index from k-means weighted by the cells' sizes (scikit-learn, imported here: only the
    nightly job and the CLI need it, and it takes a second to import)."""
    import numpy as np
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    points = np.array([c.scores for c in cells], dtype=float)
    weights = np.array([c.size for c in cells], dtype=float)
    k = min(k, len(cells))
    if k <= 1:
        return [0] * len(cells)
    model = KMeans(n_clusters=k, random_state=seed, n_init=10)
    with threadpool_limits(1):  # a few hundred points: OpenMP threads cost more than they share (0.8 s → ms)
        return [int(label) for label in model.fit_predict(points, sample_weight=weights)]


def _product_ref() -> peewee.Node:
    """A card event's product id (only cards carry one: a search's ref is its words, never cast)."""
    return peewee.Cast(peewee.Case(None, [(BehaviourEvent.kind == "card", BehaviourEvent.ref)], None), "INTEGER")


class _Sample(peewee.Model):
    """Every n-th profile in openid order (a temporary table): whom the categories are read for."""

    openid = peewee.CharField(primary_key=True)
    r_score = peewee.SmallIntegerField()
    f_score = peewee.SmallIntegerField()
    m_score = peewee.SmallIntegerField()
    b_score = peewee.SmallIntegerField()

    class Meta:
        database = database
        table_name = "cluster_sample"


def _take_sample(members: int) -> None:
    step = max(members // CATEGORY_SAMPLE, 1)
    _Sample.drop_table(safe=True)
    _Sample.create_table(temporary=True)
    scores = ", ".join(SCORES)
    database.execute_sql(
        f"INSERT INTO {_Sample._meta.table_name} (openid, {scores}) SELECT openid, {scores} FROM ("
        f"SELECT openid, {scores}, ROW_NUMBER() OVER (ORDER BY openid) AS n FROM {MemberProfile._meta.table_name}"
        f") ranked WHERE (n / {step}) * {step} = n"  # n % step = 0, without a % psycopg2 would read
    )
    # SQLite has no statistics for a temporary table and drove the joins from the events' time index (every
    # event of the year, 2.4 s at 1,000,000 members); the joins below name the sample first with CROSS JOIN,
    # which SQLite keeps in that order. PostgreSQL plans from statistics.
    if not is_sqlite():
        database.execute_sql(f"ANALYZE {_Sample._meta.table_name}")


def _top_categories(members: int, since: datetime) -> tuple[dict, dict]:
    """Per score cell, from a sample of members (`CATEGORY_SAMPLE`, every n-th in openid order: the same
    members every run): buyers per top-level category of what they paid for since `since`, and members per
    top-level category of the product cards they saw. Read for every member, the cards alone were a sort of
    1.45 million events (8.6 s of CPU at 1,000,000 members)."""
    top = {c.id: c.path.split("/")[0] for c in Category.select(Category.id, Category.path)}
    _take_sample(members)
    cell = [getattr(_Sample, s) for s in SCORES]
    bought = (
        _Sample.select(*cell, Product.category, peewee.fn.COUNT(Order.openid.distinct()))
        .join(Order, peewee.JOIN.CROSS)  # CROSS: SQLite keeps the sample outermost (see `_take_sample`)
        .join(OrderLine, on=OrderLine.order == Order.id)
        .join(Sku, on=Sku.id == OrderLine.sku_id)
        .join(Product, on=Product.id == Sku.product)
        .where(Order.openid == _Sample.openid, Order.paid_at >= since)
        .group_by(*cell, Product.category)
        .tuples()
    )
    views = (
        _Sample.select(*cell, Product.category, peewee.fn.COUNT(BehaviourEvent.openid.distinct()))
        .join(BehaviourEvent, peewee.JOIN.CROSS)
        .join(Product, on=Product.id == _product_ref())
        .where(BehaviourEvent.openid == _Sample.openid, BehaviourEvent.kind == "card", BehaviourEvent.at >= since)
        .group_by(*cell, Product.category)
        .tuples()
    )
    out: list[dict[tuple[int, ...], Counter[str]]] = [{}, {}]
    try:
        for target, rows in zip(out, (bought, views), strict=True):
            for r, f, m, b, category, n in rows:
                target.setdefault((r, f, m, b), Counter())[top.get(category, "")] += int(n)
    finally:
        _Sample.drop_table(safe=True)
    return out[0], out[1]


def _words(mine: dict[str, float], everyone: dict[str, float]) -> tuple[str, list[str]]:
    """The label's words and the traits, from the cluster's figures against every buyer's."""
    if mine["buyer_share"] < 0.5:
        return ("未购 · 爱逛" if mine["b"] >= 2.5 else "未购"), []
    ratio = mine["orders_per_buyer"] / everyone["orders_per_buyer"] if everyone["orders_per_buyer"] else 1.0
    frequency = "高频" if ratio >= 1.5 else "低频" if ratio <= 0.8 else "中频"
    value = mine["order_value_fen"] / everyone["order_value_fen"] if everyone["order_value_fen"] else 1.0
    basket = "高客单" if value >= 1.3 else "低客单" if value <= 0.77 else "中客单"
    traits = []
    if mine["r"] >= 4:
        traits.append("近期活跃")
    elif mine["r"] <= 2:
        traits.append("久未购买")
    if mine["b"] >= 2.5:
        traits.append("爱逛")
    return frequency + basket, traits


def _figures(cells: list[_Cell]) -> dict[str, float]:
    size = sum(c.size for c in cells) or 1
    buyers = sum(c.buyers for c in cells)
    orders = sum(c.orders for c in cells)
    weighted = {name: sum(c.scores[i] * c.size for c in cells) / size for i, name in enumerate("rfmb")}
    return {
        **weighted,
        "size": float(size),
        "buyers": float(buyers),
        "buyer_share": buyers / size,
        "orders_per_buyer": orders / buyers if buyers else 0.0,
        "order_value_fen": sum(c.spend_fen for c in cells) / orders if orders else 0.0,
        "days_since_paid": sum(c.days_since_paid for c in cells) / buyers if buyers else 0.0,
        "events_per_member": sum(c.events for c in cells) / size,
    }


def _category(cells: list[_Cell], bought: dict, viewed: dict) -> str:
    """The top-level category a cluster leans to: by buyers, else by viewers; "" when none dominates."""
    for source in (bought, viewed):
        counts: Counter[str] = Counter()
        for cell in cells:
            counts.update(source.get(cell.scores, Counter()))
        total = sum(counts.values())
        if total:
            name, n = counts.most_common(1)[0]
            return name if name and n / total >= DOMINANT_SHARE else ""
    return ""


def recompute_clusters(k: int, seed: int, now: datetime) -> list[Cluster]:
    """Cluster tonight's profiles into at most `k` clusters and store them (replacing last night's)."""
    cells = _cells(now)
    if not cells:
        with write_transaction():
            ClusterCell.delete().execute()
            ProfileCluster.delete().execute()
        return []
    labels = _fit(cells, k, seed)
    groups: dict[int, list[_Cell]] = {}
    for cell, label in zip(cells, labels, strict=True):
        groups.setdefault(label, []).append(cell)
    everyone = _figures([c for c in cells if c.buyers])
    total = sum(c.size for c in cells)
    bought, viewed = _top_categories(total, now - timedelta(days=CATEGORY_DAYS))
    summaries = []
    for members in groups.values():
        mine = _figures(members)
        words, traits = _words(mine, everyone)
        category = _category(members, bought, viewed)
        summaries.append((mine, words + (f" · {category}" if category else ""), traits, category, members))
    labels_seen = Counter(label for _, label, *_ in summaries)
    summaries = [  # two clusters with the same words: their traits tell them apart
        (mine, f"{label} · {'、'.join(traits)}" if labels_seen[label] > 1 and traits else label, traits, cat, members)
        for mine, label, traits, cat, members in summaries
    ]
    # by average spend per member, then orders, then the smallest scores: the same numbers every run
    summaries.sort(key=lambda s: (-s[0]["m"], -s[0]["f"], -s[0]["r"], -s[0]["b"], min(c.scores for c in s[4])))
    clusters = []
    for number, (mine, label, traits, category, members) in enumerate(summaries, start=1):
        figures = {key: round(mine[key], 2) for key in ("buyers", "orders_per_buyer", "order_value_fen",
                                                        "days_since_paid", "events_per_member")}  # fmt: skip
        figures.update(traits=traits, category=category)
        centroid = {name: round(mine[name], 2) for name in "rfmb"}
        clusters.append(Cluster(number, label, int(mine["size"]), mine["size"] / total, centroid, figures))
        for cell in members:
            cell.cluster = number
    _store(clusters, cells, now)
    return clusters


def _store(clusters: list[Cluster], cells: list[_Cell], now: datetime) -> None:
    with write_transaction():
        ClusterCell.delete().execute()
        ProfileCluster.delete().execute()
        ProfileCluster.insert_many(
            [{"number": c.number, "label": c.label, "size": c.size, "computed_at": now,
              "centroid": json.dumps(c.centroid), "figures": json.dumps(c.figures, ensure_ascii=False)}
             for c in clusters]
        ).execute()  # fmt: skip
        rows = [dict(zip(SCORES, cell.scores, strict=True), cluster=cell.cluster) for cell in cells]
        for start in range(0, len(rows), 500):
            ClusterCell.insert_many(rows[start : start + 500]).execute()


def stored_clusters() -> list[Cluster]:
    """Last night's clusters, by number."""
    rows = list(ProfileCluster.select().order_by(ProfileCluster.number))
    total = sum(r.size for r in rows) or 1
    return [Cluster(r.number, r.label, r.size, r.size / total, json.loads(r.centroid), json.loads(r.figures))
            for r in rows]  # fmt: skip
