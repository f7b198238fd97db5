"""Segments: saved rules over the profiles (lifecycle, tier, RFM and B scores, region, birthday month, source, the
night's cluster) and what the member bought lately, compiled to one query so a segment's size is a COUNT and a
campaign an INSERT … SELECT."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import peewee

from store.catalog.products import Category, Product, Sku
from store.core.db import write_transaction
from store.members.accounts import SpendEntry
from store.orders.checkout import Order, OrderLine
from store.orders.pricing import Tier
from store.profiles.models import LIFECYCLE_STAGES, ClusterCell, MemberProfile, Segment

TIER_ORDER = (Tier.NORMAL.value, Tier.VIP.value, Tier.BLACK_GOLD.value)


class SegmentError(ValueError):
    """A rule that cannot be used, with every problem named."""


@dataclass(frozen=True)
class SegmentRule:
    """Every condition given must hold; lists mean "any of"."""

    lifecycle: tuple[str, ...] = ()
    tier_at_least: str = ""  # normal / vip / black_gold
    r_min: int = 0
    f_min: int = 0
    m_min: int = 0
    b_min: int = 0  # behaviour: events in the kept period, scored 1..5 (0 = none)
    cluster: tuple[int, ...] = ()  # the night's clusters by number (`wxshop members segments` lists them)
    region: tuple[str, ...] = ()  # provinces, e.g. "广东省"
    birthday_month: tuple[int, ...] = ()
    source: tuple[str, ...] = ()  # QR scenes
    bought_category: str = ""  # a category path or name, e.g. "服饰"; its subcategories count
    bought_within_days: int = 180

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)


_LISTS = {"lifecycle": str, "region": str, "birthday_month": int, "source": str, "cluster": int}
_SCALARS = {"tier_at_least": str, "r_min": int, "f_min": int, "m_min": int, "b_min": int, "bought_category": str,
            "bought_within_days": int}  # fmt: skip


def parse_rule(raw: Mapping[str, Any]) -> SegmentRule:
    """A rule from TOML or JSON (`{"lifecycle": ["衰退"], "bought_category": "服饰", "tier_at_least": "vip"}`)."""
    if not isinstance(raw, Mapping):
        raise SegmentError(["a segment rule is a table of conditions"])
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _LISTS:
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(i, _LISTS[key]) and not isinstance(i, bool) for i in items):
                problems.append(f"{key}: expected a list of {_LISTS[key].__name__}")
                continue
            values[key] = tuple(items)
        elif key in _SCALARS:
            if not isinstance(value, _SCALARS[key]) or isinstance(value, bool):
                problems.append(f"{key}: expected {_SCALARS[key].__name__}")
                continue
            values[key] = value
        else:
            problems.append(f"{key}: unknown condition (known: {', '.join([*_LISTS, *_SCALARS])})")
    for stage in values.get("lifecycle", ()):
        if stage not in LIFECYCLE_STAGES:
            problems.append(f"lifecycle: {stage!r} is not one of {'/'.join(LIFECYCLE_STAGES)}")
    if values.get("tier_at_least", "") not in ("", *TIER_ORDER):
        problems.append(f"tier_at_least: expected one of {', '.join(TIER_ORDER)}")
    for key in ("r_min", "f_min", "m_min", "b_min"):
        if not 0 <= values.get(key, 0) <= 5:
            problems.append(f"{key}: expected 0..5")
    if not all(n >= 1 for n in values.get("cluster", ())):
        problems.append("cluster: expected cluster numbers from 1")
    if not all(1 <= m <= 12 for m in values.get("birthday_month", ())):
        problems.append("birthday_month: expected months 1..12")
    if values.get("bought_within_days", 180) <= 0:
        problems.append("bought_within_days: expected a positive number of days")
    if problems:
        raise SegmentError(problems)
    return SegmentRule(**values)


def _bought(category: str, since: datetime) -> peewee.ModelSelect:
    """Openids with a payment since `since` for an order holding a product under `category`."""
    path = "/".join(part.strip() for part in category.split("/"))
    in_category = (Category.path == path) | Category.path.startswith(path + "/") | (Category.name == path)
    paid_orders = SpendEntry.select(SpendEntry.order_no).where(SpendEntry.at >= since, SpendEntry.amount_fen > 0)
    return (
        Order.select(Order.openid)
        .join(OrderLine, on=OrderLine.order == Order.id)
        .join(Sku, on=Sku.id == OrderLine.sku_id)
        .join(Product, on=Product.id == Sku.product)
        .join(Category, on=Category.id == Product.category)
        .where(in_category, Order.order_no.in_(paid_orders))
    )


def _in_clusters(numbers: tuple[int, ...]) -> peewee.Expression:
    """The member's score cell belongs to one of these clusters (a lookup in a table of at most 1,296 cells)."""
    cell = ClusterCell.select(peewee.SQL("1")).where(
        ClusterCell.r_score == MemberProfile.r_score, ClusterCell.f_score == MemberProfile.f_score,
        ClusterCell.m_score == MemberProfile.m_score, ClusterCell.b_score == MemberProfile.b_score,
        ClusterCell.cluster.in_(list(numbers)),
    )  # fmt: skip
    return peewee.fn.EXISTS(cell)


def members_of(rule: SegmentRule, now: datetime) -> peewee.ModelSelect:
    """The segment's members as a query over the profiles (select what you need from it)."""
    where: list[peewee.Expression] = []
    if rule.lifecycle:
        where.append(MemberProfile.lifecycle.in_(list(rule.lifecycle)))
    if rule.tier_at_least:
        where.append(MemberProfile.tier.in_(list(TIER_ORDER[TIER_ORDER.index(rule.tier_at_least) :])))
    for column, least in ((MemberProfile.r_score, rule.r_min), (MemberProfile.f_score, rule.f_min),
                          (MemberProfile.m_score, rule.m_min), (MemberProfile.b_score, rule.b_min)):  # fmt: skip
        if least:
            where.append(column >= least)
    if rule.cluster:
        where.append(_in_clusters(rule.cluster))
    if rule.region:
        where.append(MemberProfile.region.in_(list(rule.region)))
    if rule.birthday_month:
        where.append(MemberProfile.birthday_month.in_(list(rule.birthday_month)))
    if rule.source:
        where.append(MemberProfile.source.in_(list(rule.source)))
    if rule.bought_category:
        since = now - timedelta(days=rule.bought_within_days)
        where.append(MemberProfile.openid.in_(_bought(rule.bought_category, since)))
    query = MemberProfile.select()
    return query.where(*where) if where else query


def preview(rule: SegmentRule, now: datetime) -> int:
    """How many members the rule holds tonight's profiles say."""
    return int(members_of(rule, now).count())


def save_segment(name: str, rule: SegmentRule, now: datetime) -> Segment:
    """Create or replace the segment called `name`."""
    name = name.strip()
    if not name or len(name) > 64:
        raise SegmentError(["name: 1..64 characters"])
    with write_transaction():
        updated = Segment.update(rule=rule.to_json(), updated_at=now).where(Segment.name == name).execute()
        if not updated:
            Segment.insert(name=name, rule=rule.to_json(), created_at=now, updated_at=now).execute()
    return Segment.get(Segment.name == name)


def segment_rule(name: str) -> SegmentRule | None:
    row = Segment.get_or_none(Segment.name == name)
    return None if row is None else parse_rule(json.loads(row.rule))


def list_segments() -> list[Segment]:
    return list(Segment.select().order_by(Segment.name))
