"""Tiers over time: the nightly sweep, and a member's progress to the next tier (for "我是什么会员").

A payment or refund recomputes the tier in its own transaction (store.members.accounts) and queues the notice there.
What changes with time alone is the annual spend: a 黑金 member whose spend within the tier year (`rolling`: the
last 365 days; `calendar`: since 1 January) falls below the threshold drops to VIP (or 普通). Pricing always
uses the live tier (`members.tier_of`), so the discount follows the rule to the minute; the sweep brings the
stored tier in line and tells the member.

The sweep is one set-based statement over all members — `UPDATE member SET tier = <rule> WHERE tier <> <rule>
RETURNING openid, tier`, the year's spend summed only for members whose cumulative spend reaches the 黑金
threshold — plus the notices for the rows it changed, in the same transaction. Running it again finds nothing to
change. (An `openid IN (SELECT … GROUP BY openid HAVING …)` form was tried first: PostgreSQL could not hash a
subquery of a million groups and re-ran it per member.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import peewee

from store.core.db import write_transaction
from store.members.accounts import Member, MemberRules, SpendEntry, annual_spend, member
from store.members.tier_notices import tier_notice_fields
from store.orders.pricing import Tier
from store.outbox.kinds import Priority
from store.outbox.notices import PENDING, Notice

NOTICE_CHUNK = 500


def rule_tier(now: datetime, rules: MemberRules) -> peewee.Case:
    """The tier each member should have now, as SQL. The year's spend is summed (one index range on
    spend_entry(openid, at, amount_fen)) only for members whose cumulative spend could reach 黑金 at all — a
    member's spend within the year never exceeds their cumulative spend — and CASE evaluates it only for them."""
    annual = SpendEntry.select(peewee.fn.COALESCE(peewee.fn.SUM(SpendEntry.amount_fen), 0)).where(
        SpendEntry.openid == Member.openid, SpendEntry.at > rules.year_start(now)
    )
    below_black_gold = peewee.Case(
        None, [(Member.total_spend_fen >= rules.vip_spend_fen, Tier.VIP.value)], Tier.NORMAL.value
    )
    return peewee.Case(
        None,
        [
            (Member.total_spend_fen < rules.black_gold_annual_spend_fen, below_black_gold),
            (annual >= rules.black_gold_annual_spend_fen, Tier.BLACK_GOLD.value),
        ],
        below_black_gold,
    )


def sweep_tiers(now: datetime, rules: MemberRules) -> list[tuple[str, str]]:
    """Bring every stored tier in line with the rule and queue a notice per change; returns (openid, new tier)."""
    with write_transaction():
        target = rule_tier(now, rules)
        changed = list(
            Member.update(tier=target, updated_at=now)
            .where(Member.tier != target)
            .returning(Member.openid, Member.tier)
            .tuples()
            .execute()
        )
        day = f"{now:%Y%m%d}"
        fields = {tier: _payload(tier, now) for tier in Tier}
        rows = [
            {
                "openid": openid,
                "kind": "tier_change",
                "priority": int(Priority.SERVICE),
                "fields": fields[Tier(tier)],
                "dedup_key": f"tier:{openid}:sweep{day}:{tier}",
                "status": PENDING,
                "attempts": 0,
                "due_at": now,
                "created_at": now,
            }
            for openid, tier in changed
        ]
        for i in range(0, len(rows), NOTICE_CHUNK):
            Notice.insert_many(rows[i : i + NOTICE_CHUNK]).on_conflict_ignore().execute()
    return [(openid, tier) for openid, tier in changed]


def _payload(tier: Tier, now: datetime) -> str:
    return json.dumps(tier_notice_fields(tier, now), ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class TierStanding:
    """Where a member stands: the live tier, the two spends, and what the next tier needs."""

    tier: Tier
    total_fen: int
    annual_fen: int
    next_tier: Tier | None
    missing_fen: int  # spend still needed for next_tier (cumulative for VIP, within the year for 黑金)
    progress: float  # 0..1 towards next_tier


def standing(openid: str, now: datetime, rules: MemberRules) -> TierStanding:
    row = member(openid)
    total = row.total_spend_fen if row else 0
    annual = annual_spend(openid, now, rules) if row else 0
    tier = rules.tier_for(total, annual)
    if tier == Tier.NORMAL:
        goal, have, nxt = rules.vip_spend_fen, total, Tier.VIP
    elif tier == Tier.VIP:
        goal, have, nxt = rules.black_gold_annual_spend_fen, annual, Tier.BLACK_GOLD
    else:
        return TierStanding(tier, total, annual, None, 0, 1.0)
    have = max(have, 0)
    return TierStanding(tier, total, annual, nxt, max(goal - have, 0), min(have / goal, 1.0) if goal else 1.0)
