"""The nightly profile run: every follower's and member's RFM and behaviour scores, lifecycle stage and known
attributes, rebuilt set-based: buyers' totals and events counts into temporary tables, quintile edges from them
(`quantiles`), INSERT … SELECTs (three on SQLite, one on PostgreSQL) into a staging table swapped in at the end
(`staging`).

Payments come from the spend ledger (`SpendEntry`: + per payment, − per refund), the tier from `Member`, the
birthday and source scene from `Follower`, the region from the latest delivery address (its province)."""

from __future__ import annotations

from datetime import datetime, timedelta

from peewee import fn

from store.core.db import ShanghaiDateTimeField, database, is_sqlite, write_transaction
from store.members.accounts import Member, SpendEntry
from store.members.followers import Follower
from store.orders.addresses import Address
from store.profiles.models import BehaviourEvent, MemberProfile
from store.profiles.quantiles import histogram_edges
from store.profiles.quantiles import quintiles as quintiles_of
from store.profiles.rules import ProfileRules
from store.profiles.staging import STAGING, create_staging, swap_in_staging

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
    "tier, source, computed_at, events, b_score"
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
EVENTS = "profile_events"  # a temporary table: each member's behaviour events in the kept period
_ADVISORY_KEY = 7242015  # PostgreSQL: one rebuild at a time (the staging table has one name)


def _totals() -> str:
    """Each buyer's payments, net spend and last payment, into a temporary table (dropped with the transaction on
    PostgreSQL, by `rebuild_profiles` on SQLite); the ledger's covering (openid, at, amount_fen) index hands the
    groups over in openid order without reading the ledger's rows. The casts keep PostgreSQL's sums integers
    (SUM of a bigint is a numeric there, slower to compare and to store).

    On PostgreSQL the table also takes every member's events count (`n`, from the events table): buyers are the
    rows with a `frequency`. One narrow join here saves the wide scoring statement a fourth hash join."""
    spend = f"""
        SELECT openid, frequency, monetary, last_paid FROM (
            SELECT openid, CAST(SUM(CASE WHEN amount_fen > 0 THEN 1 ELSE 0 END) AS INTEGER) AS frequency,
                   CAST(SUM(amount_fen) AS BIGINT) AS monetary, MAX(CASE WHEN amount_fen > 0 THEN at END) AS last_paid
            FROM {SpendEntry._meta.table_name} GROUP BY openid
        ) spend WHERE frequency > 0
    """
    if is_sqlite():
        return f"CREATE TEMP TABLE {TOTALS} AS {spend}"
    return f"""
        CREATE TEMP TABLE {TOTALS} ON COMMIT DROP AS
        SELECT COALESCE(s.openid, e.openid) AS openid, s.frequency, s.monetary, s.last_paid, e.n
        FROM ({spend}) s FULL JOIN {EVENTS} e ON e.openid = s.openid
    """


def _reached(column: str, edges: list[object], q: _Params) -> str:
    def value(edge: object) -> str:
        if isinstance(edge, int):
            return str(edge)
        q.values.append(edge)
        return database.param

    return "1 + " + " + ".join(f"(CASE WHEN b.{column} >= {value(e)} THEN 1 ELSE 0 END)" for e in edges)


def _scores(rules: ProfileRules, now: datetime, buyers: int, q: _Params) -> tuple[str, str, str]:
    """R, F and M of a buyer row `b`, by configured edges or quintiles."""
    quintiles = quintiles_of(TOTALS, rules, buyers)
    if rules.recency_days_edges:
        r_expr = "1 + " + " + ".join(
            f"(CASE WHEN b.last_paid >= {q.at(now - timedelta(days=e))} THEN 1 ELSE 0 END)"
            for e in rules.recency_days_edges
        )
    else:
        r_expr = _reached("last_paid", quintiles["last_paid"], q)
    if rules.frequency_edges:
        f_expr = _above("b.frequency", rules.frequency_edges)
    else:
        f_expr = _reached("frequency", [int(e) for e in quintiles["frequency"]], q)
    if rules.monetary_fen_edges:
        m_expr = _above("b.monetary", rules.monetary_fen_edges)
    else:
        m_expr = _reached("monetary", [int(e) for e in quintiles["monetary"]], q)
    return r_expr, f_expr, m_expr


def _buyer_stage(rules: ProfileRules, now: datetime, q: _Params) -> str:
    churn, lapse = q.at(now - timedelta(days=rules.churn_days)), q.at(now - timedelta(days=rules.lapse_days))
    return (
        f"CASE WHEN b.last_paid < {churn} THEN '流失' WHEN b.last_paid < {lapse} THEN '衰退' "
        f"WHEN b.frequency >= {int(rules.mature_orders)} THEN '成熟' ELSE '成长' END"
    )


def _newcomer_stage(now: datetime, churn_days: int, q: _Params) -> str:
    """Never paid: 引入, or 流失 when known (followed, or a member) for longer than `churn_days`."""
    known = q.at(now - timedelta(days=churn_days))
    return f"CASE WHEN COALESCE(f.first_followed_at, f.created_at, m.created_at) < {known} THEN '流失' ELSE '引入' END"


def _buyers(rules: ProfileRules, now: datetime, buyers: int, b_edges: list[int]) -> tuple[str, list[object]]:
    """SQLite: everyone with a payment (the totals table), in its (openid) order, each followed up by key lookups.
    NOT INDEXED: with an index on a score column the planner may walk it, and rows in that order cost the staging
    table's primary key four times as much."""
    q = _Params()
    scores = ", ".join(_scores(rules, now, buyers, q))
    stage = _buyer_stage(rules, now, q)
    sql = f"""
        INSERT INTO {STAGING} ({_COLUMNS})
        SELECT b.openid, b.last_paid, b.frequency, b.monetary, {scores}, {stage}, {_attributes("b.openid", q.at(now))},
               {_behaviour(b_edges)}
        FROM {TOTALS} b NOT INDEXED
        LEFT JOIN {Follower._meta.table_name} f ON f.openid = b.openid
        LEFT JOIN {Member._meta.table_name} m ON m.openid = b.openid
        LEFT JOIN {EVENTS} e ON e.openid = b.openid
    """
    return sql, q.values


def _never_paid(now: datetime, churn_days: int, b_edges: list[int], followers: bool) -> tuple[str, list[object]]:
    """SQLite: followers (or members without a follower row) with no payment."""
    q = _Params()
    stage = _newcomer_stage(now, churn_days, q)
    follower, member, spend = Follower._meta.table_name, Member._meta.table_name, SpendEntry._meta.table_name
    if followers:
        source = f"{follower} f LEFT JOIN {member} m ON m.openid = f.openid"
        who, extra = "f.openid", ""
    else:
        source = f"{member} m LEFT JOIN {follower} f ON f.openid = m.openid"
        who, extra = "m.openid", "AND f.openid IS NULL"
    sql = f"""
        INSERT INTO {STAGING} ({_COLUMNS})
        SELECT {who}, NULL, 0, 0, 0, 0, 0, {stage}, {_attributes(who, q.at(now))}, {_behaviour(b_edges)}
        FROM {source} LEFT JOIN {EVENTS} e ON e.openid = {who}
        WHERE NOT EXISTS (SELECT 1 FROM {spend} s WHERE s.openid = {who} AND s.amount_fen > 0) {extra}
        ORDER BY {who}
    """
    return sql, q.values


def _everyone(rules: ProfileRules, now: datetime, buyers: int, b_edges: list[int]) -> tuple[str, list[object]]:
    """PostgreSQL: buyers, followers and members in one statement, full hash joins on openid, so each table is
    read and hashed once (three statements hashed the followers, members and addresses three times)."""
    q = _Params()
    scores = _scores(rules, now, buyers, q) if buyers else ("0", "0", "0")
    newcomer = _newcomer_stage(now, rules.churn_days, q)
    stage = _buyer_stage(rules, now, q)
    scored = ", ".join(f"CASE WHEN b.frequency IS NULL THEN 0 ELSE {score} END" for score in scores)
    who = "COALESCE(b.openid, f.openid, m.openid)"
    sql = f"""
        INSERT INTO {STAGING} ({_COLUMNS})
        SELECT {who}, b.last_paid, COALESCE(b.frequency, 0), COALESCE(b.monetary, 0), {scored},
               CASE WHEN b.frequency IS NULL THEN {newcomer} ELSE {stage} END, {_attributes(who, q.at(now))},
               {_behaviour(b_edges, "b.n")}
        FROM {TOTALS} b
        FULL JOIN {Follower._meta.table_name} f ON f.openid = b.openid
        FULL JOIN {Member._meta.table_name} m ON m.openid = COALESCE(b.openid, f.openid)
        {_latest_address(who)}
        WHERE b.frequency IS NOT NULL OR f.openid IS NOT NULL OR m.openid IS NOT NULL
    """
    return sql, q.values


def _make_events(since: datetime) -> list[int]:
    """Each member's events since `since` into a temporary table; returns the B score's quintile edges over the
    members with any (from the counts' histogram: a few hundred distinct counts, not a sort of every member)."""
    database.execute_sql(f"DROP TABLE IF EXISTS {EVENTS}")
    create = f"CREATE TEMP TABLE {EVENTS}" + ("" if is_sqlite() else " ON COMMIT DROP")
    _without_hashagg(
        f"{create} AS SELECT openid, COUNT(*) AS n FROM {BehaviourEvent._meta.table_name} "
        f"WHERE at >= {database.param} GROUP BY openid",
        (_STAMP.db_value(since),),
    )
    if is_sqlite():
        database.execute_sql(f"CREATE UNIQUE INDEX {EVENTS}_openid ON {EVENTS} (openid)")
    else:
        database.execute_sql(f"ANALYZE {EVENTS}")
    histogram = database.execute_sql(f"SELECT n, COUNT(*) FROM {EVENTS} GROUP BY n ORDER BY n").fetchall()
    return histogram_edges([(int(n), int(c)) for n, c in histogram])


def _behaviour(edges: list[int], n: str = "e.n") -> str:
    """The events and B score columns from the events count `n` (NULL: none)."""
    if not edges:
        return f"COALESCE({n}, 0), 0"
    reached = " + ".join(f"(CASE WHEN {n} >= {int(edge)} THEN 1 ELSE 0 END)" for edge in edges)
    return f"COALESCE({n}, 0), CASE WHEN {n} IS NULL THEN 0 ELSE 1 + {reached} END"


def _without_hashagg(sql: str, params: tuple[object, ...] = ()) -> None:
    """PostgreSQL guesses a few hundred thousand members from its sample of the ledger (and of the events) and
    hashes them; grouping the covering index's ordered entries instead takes a third of the time (0.3 s
    against 1 s at 1,000,000). SQLite groups by the index anyway."""
    if is_sqlite():
        database.execute_sql(sql, params)
        return
    database.execute_sql("SET LOCAL enable_hashagg = off")
    database.execute_sql(sql, params)
    database.execute_sql("SET LOCAL enable_hashagg TO DEFAULT")


def _make_totals() -> int:
    """The totals table (after the events table: on PostgreSQL it takes their counts); returns how many buyers."""
    database.execute_sql(f"DROP TABLE IF EXISTS {TOTALS}")
    _without_hashagg(_totals())
    if not is_sqlite():  # a fresh table has no statistics: without them PostgreSQL plans nested loops
        database.execute_sql(f"ANALYZE {TOTALS}")
    return int(database.execute_sql(f"SELECT COUNT(frequency) FROM {TOTALS}").fetchone()[0])


def rebuild_profiles(rules: ProfileRules, now: datetime) -> int:
    """Replace every profile with tonight's; returns how many were written. One transaction: readers see the
    old profiles or the new ones, never half. Buyers' totals go to a temporary table first; then three
    statements (buyers, followers who never paid, members without a follower row who never paid), each driven by
    one table with lookups into the others, fill a staging table that is indexed and swapped in at the end
    (no million-row DELETE, no dead rows left behind on PostgreSQL)."""
    written = 0
    with write_transaction():
        if not is_sqlite():
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_KEY,))
            # the night's one big job: hash joins and sorts of a million rows in memory, not in batches on disk
            database.execute_sql("SET LOCAL work_mem = '128MB'")
            database.execute_sql("SET LOCAL maintenance_work_mem = '256MB'")
        create_staging()
        b_edges = _make_events(now - timedelta(days=rules.events_days))
        buyers = _make_totals()
        if not is_sqlite():
            statements = [_everyone(rules, now, buyers, b_edges)]
        else:
            statements = [
                _never_paid(now, rules.churn_days, b_edges, followers=True),
                _never_paid(now, rules.churn_days, b_edges, followers=False),
            ]
            if buyers:
                statements.insert(0, _buyers(rules, now, buyers, b_edges))
        for sql, params in statements:
            written += int(database.execute_sql(sql, params).rowcount)
        swap_in_staging()
        if is_sqlite():
            database.execute_sql(f"DROP TABLE {TOTALS}")
            database.execute_sql(f"DROP TABLE {EVENTS}")
    return written


def lifecycle_counts() -> dict[str, int]:
    rows = MemberProfile.select(MemberProfile.lifecycle, fn.COUNT(1)).group_by(MemberProfile.lifecycle).tuples()
    return {stage: count for stage, count in rows}


def rfm_counts() -> dict[str, dict[int, int]]:
    """Per score letter, how many members have each score (0 = never paid; for B, no events)."""
    out: dict[str, dict[int, int]] = {}
    scores = (("R", MemberProfile.r_score), ("F", MemberProfile.f_score), ("M", MemberProfile.m_score),
              ("B", MemberProfile.b_score))  # fmt: skip
    for letter, column in scores:
        rows = MemberProfile.select(column, fn.COUNT(1)).group_by(column).order_by(column).tuples()
        out[letter] = {int(score): count for score, count in rows}
    return out
