"""The nightly profile run: every follower's and member's RFM scores, lifecycle stage and known attributes,
rebuilt set-based: buyers' totals into a temporary table, quintile edges read from its indexes, three INSERT … SELECTs.

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


def _province(expr: str) -> str:
    if is_sqlite():
        return f"NULLIF(substr({expr}, 1, instr({expr} || ' ', ' ') - 1), '')"
    return f"NULLIF(split_part({expr}, ' ', 1), '')"


def _above(column: str, edges: tuple[int, ...]) -> str:
    return "1 + " + " + ".join(f"(CASE WHEN {column} > {int(e)} THEN 1 ELSE 0 END)" for e in edges)


class _Params:
    """Placeholders handed out in the order they appear in a statement, with their values."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def at(self, when: datetime) -> str:
        self.values.append(_STAMP.db_value(when))
        return database.param


_COLUMNS = (
    "openid, last_paid_at, frequency, monetary_fen, r_score, f_score, m_score, lifecycle, region, birthday_month, "
    "tier, source, computed_at"
)


def _attributes(who: str, stamp: str) -> str:
    """The attribute columns, from `f` (follower) and `m` (member), both LEFT JOINed, and the province of `who`'s
    latest address: on PostgreSQL from `a` (`_latest_address`, hash-joined); on SQLite by a lookup on the address's
    openid index per row (SQLite re-ran a joined subquery of latest addresses for every row)."""
    if is_sqlite():
        latest = f"FROM {Address._meta.table_name} x WHERE x.openid = {who} ORDER BY x.id DESC LIMIT 1"
        province = f"(SELECT {_province('x.region')} {latest})"
    else:
        province = _province("a.region")
    return (
        f"{province}, "
        "CASE WHEN f.birthday IS NULL THEN NULL ELSE CAST(substr(f.birthday, 1, 2) AS INTEGER) END, "
        f"COALESCE(m.tier, 'normal'), f.source_scene, {stamp}"
    )


def _latest_address(who: str) -> str:
    """The join giving `a.region` on PostgreSQL (nothing on SQLite: see `_attributes`)."""
    if is_sqlite():
        return ""
    latest = f"SELECT DISTINCT ON (openid) openid, region FROM {Address._meta.table_name} ORDER BY openid, id DESC"
    return f"LEFT JOIN ({latest}) a ON a.openid = {who}"


TOTALS = "profile_totals"  # a temporary table: each buyer's totals, read by the scoring statement


def _totals() -> str:
    """Each buyer's payments, net spend and last payment, into a temporary table (dropped with the transaction
    on PostgreSQL, by `rebuild_profiles` on SQLite)."""
    create = f"CREATE TEMP TABLE {TOTALS}" + ("" if is_sqlite() else " ON COMMIT DROP")
    return f"""
        {create} AS
        SELECT openid, frequency, monetary, last_paid FROM (
            SELECT openid, SUM(CASE WHEN amount_fen > 0 THEN 1 ELSE 0 END) AS frequency,
                   SUM(amount_fen) AS monetary, MAX(CASE WHEN amount_fen > 0 THEN at END) AS last_paid
            FROM {SpendEntry._meta.table_name} GROUP BY openid
        ) spend WHERE frequency > 0
    """


def _quintile_edges(column: str, buyers: int) -> list[object]:
    """The values that start the 2nd..5th fifths: score = 1 + how many of them the member's value reaches.

    With v sorted ascending (1-based), "at least j values are ≤ x" is "x ≥ v[j]", so x is in a fifth above k
    (more than k/5 of buyers at or below it) exactly when x ≥ v[⌊k·N/5⌋ + 1]. Ties share a score. One index
    sort per column and four index reads, instead of window functions (three sorts of every buyer)."""
    database.execute_sql(f"CREATE INDEX {TOTALS}_{column} ON {TOTALS} ({column})")
    return [
        database.execute_sql(
            f"SELECT {column} FROM {TOTALS} ORDER BY {column} LIMIT 1 OFFSET {k * buyers // 5}"
        ).fetchone()[0]
        for k in range(1, 5)
    ]


def _reached(column: str, edges: list[object], q: _Params) -> str:
    def value(edge: object) -> str:
        if isinstance(edge, int):
            return str(edge)
        q.values.append(edge)
        return database.param

    return "1 + " + " + ".join(f"(CASE WHEN b.{column} >= {value(e)} THEN 1 ELSE 0 END)" for e in edges)


def _buyers(rules: ProfileRules, now: datetime, buyers: int) -> tuple[str, list[object]]:
    """Everyone with a payment (the totals table): scores by configured edges or quintiles, lifecycle, attributes."""
    q = _Params()
    if rules.recency_days_edges:
        r_expr = "1 + " + " + ".join(
            f"(CASE WHEN b.last_paid >= {q.at(now - timedelta(days=e))} THEN 1 ELSE 0 END)"
            for e in rules.recency_days_edges
        )
    else:
        r_expr = _reached("last_paid", _quintile_edges("last_paid", buyers), q)
    if rules.frequency_edges:
        f_expr = _above("b.frequency", rules.frequency_edges)
    else:
        f_expr = _reached("frequency", [int(e) for e in _quintile_edges("frequency", buyers)], q)
    if rules.monetary_fen_edges:
        m_expr = _above("b.monetary", rules.monetary_fen_edges)
    else:
        m_expr = _reached("monetary", [int(e) for e in _quintile_edges("monetary", buyers)], q)
    churn, lapse = q.at(now - timedelta(days=rules.churn_days)), q.at(now - timedelta(days=rules.lapse_days))
    lifecycle = (
        f"CASE WHEN b.last_paid < {churn} THEN '流失' WHEN b.last_paid < {lapse} THEN '衰退' "
        f"WHEN b.frequency >= {int(rules.mature_orders)} THEN '成熟' ELSE '成长' END"
    )
    attributes = _attributes("b.openid", q.at(now))
    sql = f"""
        INSERT INTO {MemberProfile._meta.table_name} ({_COLUMNS})
        SELECT b.openid, b.last_paid, b.frequency, b.monetary, {r_expr}, {f_expr}, {m_expr}, {lifecycle}, {attributes}
        FROM {TOTALS} b
        LEFT JOIN {Follower._meta.table_name} f ON f.openid = b.openid
        LEFT JOIN {Member._meta.table_name} m ON m.openid = b.openid
        {_latest_address("b.openid")}
    """
    return sql, q.values


def _never_paid(now: datetime, churn_days: int, followers: bool) -> tuple[str, list[object]]:
    """Followers (or members without a follower row) with no payment: 引入, or 流失 when known that long."""
    q = _Params()
    known = q.at(now - timedelta(days=churn_days))
    follower, member, spend = Follower._meta.table_name, Member._meta.table_name, SpendEntry._meta.table_name
    since = "COALESCE(f.first_followed_at, f.created_at, m.created_at)"
    if followers:
        source = f"{follower} f LEFT JOIN {member} m ON m.openid = f.openid"
        who, extra = "f.openid", ""
    else:
        source = f"{member} m LEFT JOIN {follower} f ON f.openid = m.openid"
        who, extra = "m.openid", "AND f.openid IS NULL"
    attributes = _attributes(who, q.at(now))
    sql = f"""
        INSERT INTO {MemberProfile._meta.table_name} ({_COLUMNS})
        SELECT {who}, NULL, 0, 0, 0, 0, 0, CASE WHEN {since} < {known} THEN '流失' ELSE '引入' END, {attributes}
        FROM {source} {_latest_address(who)}
        WHERE NOT EXISTS (SELECT 1 FROM {spend} s WHERE s.openid = {who} AND s.amount_fen > 0) {extra}
        {"ORDER BY " + who if is_sqlite() else ""}
    """
    return sql, q.values


def rebuild_profiles(rules: ProfileRules, now: datetime) -> int:
    """Replace every profile with tonight's; returns how many were written. One transaction: readers see the
    old profiles or the new ones, never half. Buyers' totals go to a temporary table first; then three
    statements (buyers, followers who never paid, members without a follower row who never paid), each driven by
    one table with index lookups into the others."""
    written = 0
    with write_transaction():
        MemberProfile.delete().execute()
        database.execute_sql(f"DROP TABLE IF EXISTS {TOTALS}")
        database.execute_sql(_totals())
        if not is_sqlite():  # a fresh table has no statistics: without them PostgreSQL plans nested loops
            database.execute_sql(f"ANALYZE {TOTALS}")
        buyers = int(database.execute_sql(f"SELECT COUNT(*) FROM {TOTALS}").fetchone()[0])
        statements = [_never_paid(now, rules.churn_days, followers=True), _never_paid(now, rules.churn_days, False)]
        if buyers:
            statements.insert(0, _buyers(rules, now, buyers))
        for sql, params in statements:
            written += int(database.execute_sql(sql, params).rowcount)
        if is_sqlite():
            database.execute_sql(f"DROP TABLE {TOTALS}")
    return written


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
