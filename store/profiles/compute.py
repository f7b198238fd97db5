"""The nightly profile run: every follower's and member's RFM scores, lifecycle stage and known attributes,
rebuilt set-based in one INSERT … SELECT (window functions for the quintiles), so a million members take seconds.

Payments come from the spend ledger (`SpendEntry`: + per payment, − per refund), the tier from `Member`, the
birthday and source scene from `Follower`, the region from the latest delivery address (its province)."""

from __future__ import annotations

from datetime import datetime, timedelta

from peewee import fn

from store.core.db import ShanghaiDateTimeField, database, is_sqlite, write_transaction
from store.members.accounts import Member, SpendEntry
from store.members.followers import Follower
from store.orders.addresses import Address
from store.profiles.models import MemberProfile
from store.profiles.rules import ProfileRules

_STAMP = ShanghaiDateTimeField()


def _floor(expr: str) -> str:
    # SQLite's CAST truncates; PostgreSQL's rounds, so it floors first.
    return f"CAST({expr} AS INTEGER)" if is_sqlite() else f"CAST(FLOOR({expr}) AS INTEGER)"


def _province(expr: str) -> str:
    if is_sqlite():
        return f"NULLIF(substr({expr}, 1, instr({expr} || ' ', ' ') - 1), '')"
    return f"NULLIF(split_part({expr}, ' ', 1), '')"


def _quintile(cume: str) -> str:
    return f"1 + {_floor(f'({cume} - 0.000000001) * 5')}"


def _above(column: str, edges: tuple[int, ...]) -> str:
    return "1 + " + " + ".join(f"(CASE WHEN {column} > {int(e)} THEN 1 ELSE 0 END)" for e in edges)


def rebuild_profiles(rules: ProfileRules, now: datetime) -> int:
    """Replace every profile with tonight's; returns how many were written. One transaction: readers see the
    old profiles or the new ones, never half."""
    p = database.param
    params: list[object] = []

    def at(when: datetime) -> str:
        params.append(_STAMP.db_value(when))
        return p

    if rules.recency_days_edges:
        r_expr = "1 + " + " + ".join(
            f"(CASE WHEN b.last_paid >= {at(now - timedelta(days=e))} THEN 1 ELSE 0 END)"
            for e in rules.recency_days_edges
        )
    else:
        r_expr = _quintile("b.r_cume")
    f_expr = _above("b.frequency", rules.frequency_edges) if rules.frequency_edges else _quintile("b.f_cume")
    m_expr = _above("b.monetary", rules.monetary_fen_edges) if rules.monetary_fen_edges else _quintile("b.m_cume")
    # Placeholders are taken in the order they appear in the statement: recency edges, then these, then stamp.
    churn_known = at(now - timedelta(days=rules.churn_days))
    churn, lapse = at(now - timedelta(days=rules.churn_days)), at(now - timedelta(days=rules.lapse_days))
    lifecycle = (
        f"CASE WHEN b.openid IS NULL THEN (CASE WHEN COALESCE(f.first_followed_at, f.created_at, m.created_at) "
        f"< {churn_known} THEN '流失' ELSE '引入' END) "
        f"WHEN b.last_paid < {churn} THEN '流失' WHEN b.last_paid < {lapse} THEN '衰退' "
        f"WHEN b.frequency >= {int(rules.mature_orders)} THEN '成熟' ELSE '成长' END"
    )
    stamp = at(now)
    profile, follower, member = MemberProfile._meta.table_name, Follower._meta.table_name, Member._meta.table_name
    spend, address = SpendEntry._meta.table_name, Address._meta.table_name
    sql = f"""
        INSERT INTO {profile} (openid, last_paid_at, frequency, monetary_fen, r_score, f_score, m_score, lifecycle,
                               region, birthday_month, tier, source, computed_at)
        WITH people AS (SELECT openid FROM {follower} UNION SELECT openid FROM {member}),
        spend AS (
            SELECT openid, SUM(CASE WHEN amount_fen > 0 THEN 1 ELSE 0 END) AS frequency,
                   SUM(amount_fen) AS monetary, MAX(CASE WHEN amount_fen > 0 THEN at END) AS last_paid
            FROM {spend} GROUP BY openid
        ),
        b AS (
            SELECT openid, frequency, monetary, last_paid,
                   CUME_DIST() OVER (ORDER BY last_paid) AS r_cume,
                   CUME_DIST() OVER (ORDER BY frequency) AS f_cume,
                   CUME_DIST() OVER (ORDER BY monetary) AS m_cume
            FROM spend WHERE frequency > 0
        ),
        a AS (SELECT openid, region FROM {address} WHERE id IN (SELECT MAX(id) FROM {address} GROUP BY openid))
        SELECT pe.openid, b.last_paid, COALESCE(b.frequency, 0), COALESCE(b.monetary, 0),
               CASE WHEN b.openid IS NULL THEN 0 ELSE {r_expr} END,
               CASE WHEN b.openid IS NULL THEN 0 ELSE {f_expr} END,
               CASE WHEN b.openid IS NULL THEN 0 ELSE {m_expr} END,
               {lifecycle}, {_province("a.region")},
               CASE WHEN f.birthday IS NULL THEN NULL ELSE CAST(substr(f.birthday, 1, 2) AS INTEGER) END,
               COALESCE(m.tier, 'normal'), f.source_scene, {stamp}
        FROM people pe
        LEFT JOIN b ON b.openid = pe.openid
        LEFT JOIN {follower} f ON f.openid = pe.openid
        LEFT JOIN {member} m ON m.openid = pe.openid
        LEFT JOIN a ON a.openid = pe.openid
    """
    with write_transaction():
        MemberProfile.delete().execute()
        cursor = database.execute_sql(sql, params)
        return int(cursor.rowcount)


def lifecycle_counts() -> dict[str, int]:
    rows = MemberProfile.select(MemberProfile.lifecycle, fn.COUNT(1)).group_by(MemberProfile.lifecycle).tuples()
    return {stage: count for stage, count in rows}


def rfm_counts() -> dict[str, dict[int, int]]:
    """Per score letter, how many members have each score (0 = never paid)."""
    out: dict[str, dict[int, int]] = {}
    for letter, column in (("R", MemberProfile.r_score), ("F", MemberProfile.f_score), ("M", MemberProfile.m_score)):
        rows = MemberProfile.select(column, fn.COUNT(1)).group_by(column).order_by(column).tuples()
        out[letter] = {int(score): count for score, count in rows}
    return out
