"""The members' daily sweeps over 1,000,000 members (DESIGN §7: ≤ 10 s each): birthdays, tiers, points expiry,
the points reminder, the nightly profiles (RFM + lifecycle + attributes + behaviour score, quintiles and
configured edges) and the clusters over them (k-means over every member's R, F, M, B cell, weighted by size);
the 砍价 expiry sweep over 100,000 bargains (half of them due); and the 分销 confirmation sweep over the commissions of
as many orders as members.

    python -m benchmarks.sweeps [--quick] [--members N] [--bargains N] [--bargains-only] [--commission-only]
        [--groups N] [--groups-only]
        [--database-url URL]

Fills a fresh database set-based (one INSERT … SELECT per table over a generated sequence): N followers with
birthdays spread over the year, N members in three tiers (5 % 黑金, 25 % VIP) whose stored tier is a month old, so
the tier sweep finds the 黑金 members whose year lapsed since; one spend entry and two points earnings per member
(some spent), with the points sweeps' watermarks where last night's run left them. Before the profiles run, a
third of the members get a second payment this month, a tenth a refund and half a delivery address. Then each
sweep runs twice: the first run does the day's work, the second shows the re-run is idle (the profiles run twice
with different rules: quintiles, then configured edges; on SQLite the process's CPU time for the first is
printed too, since a shared machine stretches wall time). The baseline is the per-row way (the
tier rule evaluated member by member in Python, `members.tier_of`), timed on a sample and scaled to N — the
ratio is what to compare across machines. The commission sweep gets one commission per order (N orders of 5,000
promoters, paid over the last 60 days, a tenth already reversed by refunds): half are past the 30-day after-sales
window and are confirmed by moving the watermark (counting them); its re-run finds none. SQLite is a fresh file
under $WXSHOP_VAR_DIR (default ./var); a PostgreSQL URL gets a fresh schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import peewee

from benchmarks.common import print_figures, print_machine_info
from benchmarks.databases import fresh_sqlite_url, postgres_schema
from store.bargain.models import BargainOffer
from store.bargain.sweeps import expire_bargains
from store.catalog.products import Category, Product, Sku
from store.commission.ledger import confirm_due
from store.core.clock import SHANGHAI
from store.core.db import close_database, database, is_sqlite, open_database, write_transaction
from store.group_buy.models import Group, GroupMember, GroupOffer
from store.group_buy.sweeps import fail_expired, refunds_owed
from store.members.accounts import Member, MemberRules, tier_of
from store.members.birthdays import sweep_birthdays
from store.members.points_expiry import EXPIRY_MARK, REMINDER_MARK, SweepMark, expire_points, remind_points
from store.members.templates import seed_templates
from store.members.tiers import sweep_tiers
from store.orders.checkout import GROUPING, Order
from store.profiles.clusters import recompute_clusters
from store.profiles.compute import lifecycle_counts, rebuild_profiles
from store.profiles.rules import ProfileRules
from store.schema.steps import upgrade

NOW = datetime(2026, 11, 24, 3, 10, tzinfo=SHANGHAI)  # the nightly run
BIRTHDAY_RUN = NOW.replace(hour=9, minute=0)
BUDGET_S = 10.0
NAIVE_SAMPLE = 2000
RULES = MemberRules()


def _wall(when: datetime) -> str:
    return when.astimezone(SHANGHAI).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S")


class Dialect:
    """The few expressions that differ between SQLite and PostgreSQL when generating rows in SQL."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite

    def insert(self, table: str, columns: str, select: str, count: int, where: str = "TRUE") -> str:
        """One row per n in 1..count (where `where` holds)."""
        if self.sqlite:
            return (
                f"WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {count}) "
                f"INSERT INTO {table} ({columns}) SELECT {select} FROM seq WHERE {where}"
            )
        return (
            f"INSERT INTO {table} ({columns}) SELECT {select} FROM generate_series(1, {count}) AS seq(n) "
            f"WHERE {where}"
        )

    def days_before(self, base: datetime, days: str) -> str:
        if self.sqlite:
            return f"datetime('{_wall(base)}', '-' || ({days}) || ' days')"
        return f"(TIMESTAMP '{_wall(base)}' - ({days}) * INTERVAL '1 day')"

    def days_after(self, base_sql: str, days: int) -> str:
        if self.sqlite:
            return f"datetime({base_sql}, '+{days} days')"
        return f"({base_sql} + INTERVAL '{days} days')"

    def month_day(self, days: str) -> str:
        """The "MM-DD" of day `days` of 2024 (a leap year, so 02-29 occurs)."""
        if self.sqlite:
            return f"strftime('%m-%d', '2024-01-01', '+' || ({days}) || ' days')"
        return f"to_char(DATE '2024-01-01' + ({days})::int, 'MM-DD')"

    @property
    def true(self) -> str:
        return "1" if self.sqlite else "TRUE"


def settle() -> None:
    """Fresh statistics, and on PostgreSQL the visibility map autovacuum keeps, as a long-running database has
    (without it an index-only scan reads the table's rows as well), and the populate's writes checkpointed: the
    checkpoint they trigger otherwise lands on the first timed sweep (4 s more wall time at 1,000,000)."""
    if is_sqlite():
        database.execute_sql("ANALYZE")
        return
    database.execute_sql("VACUUM ANALYZE")
    with contextlib.suppress(peewee.DatabaseError):  # needs superuser or pg_checkpoint: else the sweep pays
        database.execute_sql("CHECKPOINT")


def populate(members: int) -> dict[str, float]:
    sql = Dialect(is_sqlite())
    t0 = _wall(NOW - timedelta(days=800))
    band = "(n % 100)"
    amount = f"(CASE WHEN {band} < 5 THEN 6000000 WHEN {band} < 30 THEN 800000 ELSE 100000 + (n % 1000) * 100 END)"
    age = "(((n / 100) * 37) % 400)"  # days since the spend (independent of the band); 黑金 lapses after 365
    stored_tier = (
        f"(CASE WHEN {band} < 5 AND {age} < 395 THEN 'black_gold' WHEN {band} < 30 THEN 'vip' ELSE 'normal' END)"
    )
    spent = "(CASE WHEN n % 5 = 0 THEN 100 ELSE 0 END)"
    earned_1 = sql.days_before(NOW, "n % 730")
    earned_2 = sql.days_before(NOW, "(n * 7) % 365")
    statements = [
        sql.insert(
            "follower",
            "openid, subscribed, first_followed_at, followed_at, birthday, birthday_set_at, created_at",
            f"'o' || n, {sql.true}, '{t0}', '{t0}', {sql.month_day('n % 366')}, '{t0}', '{t0}'",
            members,
        ),
        sql.insert(
            "member",
            "openid, tier, total_spend_fen, points, created_at, updated_at",
            f"'o' || n, {stored_tier}, {amount}, 500 - {spent}, '{t0}', '{t0}'",
            members,
        ),
        sql.insert(
            "spend_entry",
            "openid, order_no, ref, amount_fen, at",
            f"'o' || n, 'B' || n, 'T' || n, {amount}, {sql.days_before(NOW - timedelta(hours=1), age)}",
            members,
        ),
        sql.insert(
            "points_entry",
            "openid, delta, reason, order_no, at, expires_at",
            f"'o' || n, 300, 'earn', 'E' || n, {earned_1}, {sql.days_after(earned_1, 365)}",
            members,
        ),
        sql.insert(
            "points_entry",
            "openid, delta, reason, order_no, at, expires_at",
            f"'o' || n, 200, 'earn', 'F' || n, {earned_2}, {sql.days_after(earned_2, 365)}",
            members,
        ),
        sql.insert(
            "points_entry",
            "openid, delta, reason, order_no, at, expires_at",
            f"'o' || n, -{spent}, 'spend', 'S' || n, {sql.days_before(NOW, '(n % 30) + 1')}, NULL",
            members,
            where="n % 5 = 0",
        ),
    ]
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for statement in statements:
        with write_transaction():  # psycopg2 reads % as a placeholder even with no parameters
            database.execute_sql(statement if sql.sqlite else statement.replace("%", "%%"))
    with write_transaction():
        SweepMark.insert_many(
            [
                {"name": EXPIRY_MARK, "through": NOW - timedelta(days=1)},  # last night's runs
                {"name": REMINDER_MARK, "through": NOW + timedelta(days=6)},
            ]
        ).execute()
    seed_templates(["BDAY30"], NOW)
    settle()
    timings["sweeps_populate_s"] = time.perf_counter() - started
    return timings


def populate_profiles(members: int) -> float:
    """More history for the profiles: varied frequency, refunds, regions, and behaviour: members whose number
    is a multiple of 2, 3, 4, 5, 6 saw a product card once for each (0–5 events, 1.45 per member)."""
    sql = Dialect(is_sqlite())
    with write_transaction():
        clothes = Category.create(name="服饰", level=1, path="服饰")
        product = Product.create(code="B1", title="连衣裙", category=clothes)
    events = [
        sql.insert(
            "behaviour_event",
            "openid, kind, ref, at",
            f"'o' || n, 'card', '{product.id}', {sql.days_before(NOW, f'(n % 60) + {step}')}",
            members,
            where=f"n % {step} = 0",
        )
        for step in range(2, 7)
    ]
    history = [
        sql.insert(
            "spend_entry",
            "openid, order_no, ref, amount_fen, at",
            f"'o' || n, 'C' || n, 'U' || n, 5000 + (n % 50) * 100, {sql.days_before(NOW, '(n % 30) + 1')}",
            members,
            where="n % 3 = 0",
        ),
        sql.insert(
            "spend_entry",
            "openid, order_no, ref, amount_fen, at",
            f"'o' || n, 'B' || n, 'R' || n, -5000, {sql.days_before(NOW, '(n % 20) + 1')}",
            members,
            where="n % 10 = 0",
        ),
        sql.insert(
            "address",
            "openid, name, phone, region, detail, created_at, last_used_at",
            f"'o' || n, '张三', '13800000000', (CASE WHEN n % 4 = 0 THEN '广东省 深圳市 南山区' ELSE "
            f"'浙江省 杭州市 西湖区' END), '1号', '{_wall(NOW)}', '{_wall(NOW)}'",
            members,
            where="n % 2 = 0",
        ),
    ]
    statements = [*events, *history]
    started = time.perf_counter()
    for statement in statements:
        with write_transaction():
            database.execute_sql(statement if sql.sqlite else statement.replace("%", "%%"))
    settle()
    return time.perf_counter() - started


def timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def naive_tiers_per_member_s(members: int) -> float:
    """The per-row way: the tier rule evaluated member by member (one member read and one spend sum each)."""
    step = max(members // NAIVE_SAMPLE, 1)
    sample = [f"o{n}" for n in range(1, members + 1, step)][:NAIVE_SAMPLE]
    started = time.perf_counter()
    for openid in sample:
        row = Member.get(Member.openid == openid)
        _ = tier_of(openid, NOW, RULES).value != row.tier
    return (time.perf_counter() - started) / len(sample)


def populate_commissions(orders: int) -> float:
    """One commission per paid order, earned over the last 60 days; every tenth fully reversed."""
    sql = Dialect(is_sqlite())
    started = time.perf_counter()
    statement = sql.insert(
        "commission",
        "order_no, line_id, promoter_openid, buyer_openid, sku_code, title, base_fen, rate_bp, amount_fen, "
        "reversed_fen, status, earned_at",
        "'C' || n, n, 'p' || (n % 5000), 'o' || n, 'P1-M', '', 15900, 1000, 1590, "
        "CASE WHEN n % 10 = 0 THEN 1590 ELSE 0 END, CASE WHEN n % 10 = 0 THEN 'reversed' ELSE 'pending' END, "
        f"{sql.days_before(NOW, '(n % 60)')}",
        orders,
    )
    with write_transaction():
        database.execute_sql(statement if sql.sqlite else statement.replace("%", "%%"))
    settle()
    return time.perf_counter() - started


def run_commission(orders: int) -> dict[str, float]:
    populated = populate_commissions(orders)
    confirmed, seconds = timed(lambda: confirm_due(NOW, 30))
    again, rerun = timed(lambda: confirm_due(NOW, 30))
    assert confirmed > 0 and again == 0
    print(f"commission: {confirmed:,} of {orders:,} orders' commissions confirmed in {seconds:.2f} s "
          f"(populated in {populated:.1f} s; re-run {rerun:.2f} s)")  # fmt: skip
    return {"sweeps_commission_orders": orders, "sweeps_commission_confirmed": confirmed,
            "sweeps_commission_s": seconds, "sweeps_commission_rerun_s": rerun}  # fmt: skip


def _insert_rows(sql: Dialect, model: type[peewee.Model], given: dict[str, str], count: int) -> None:
    """`count` rows of `model` generated in SQL: the columns in `given` from their expressions (over n), every
    other column its field's constant default, or NULL."""
    columns, values = [], []
    for field in model._meta.sorted_fields:
        if field.name in given:
            value = given[field.name]
        elif isinstance(field, peewee.AutoField):
            continue
        elif field.default is not None and not callable(field.default):
            value = repr(int(field.default)) if isinstance(field.default, bool) else repr(field.default)
            value = value.replace('"', "'")
            if isinstance(field.default, bool) and not sql.sqlite:
                value = "TRUE" if field.default else "FALSE"
        else:
            value = "NULL"
        columns.append(f'"{field.column_name}"')
        values.append(value)
    statement = sql.insert(f'"{model._meta.table_name}"', ", ".join(columns), ", ".join(values), count)
    database.execute_sql(statement)


def populate_groups(groups: int) -> float:
    """`groups` open 3-person groups on one offer, each with a paid leader and a paid joiner (two orders waiting in
    `grouping`): every other group's window ended an hour ago, the rest close in five hours."""
    started = time.perf_counter()
    sql = Dialect(is_sqlite())
    with write_transaction():
        top = Category.create(name="拼团", level=1, path="拼团")
        product = Product.create(code="PT1", title="拼团商品", category=top)
        sku = Sku.create(code="PT1-1", product=product, spec="", price_fen=15900, stock=10)
        offer = GroupOffer.create(sku_id=sku.id, size=3, window_hours=48, price_fen=9900)
    created, due, later = (_wall(NOW - timedelta(hours=h)) for h in (47, 1, -5))
    stamp = (lambda v: f"'{v}'") if is_sqlite() else (lambda v: f"CAST('{v}' AS TIMESTAMP)")
    expires = f"(CASE WHEN n - (n / 2) * 2 = 0 THEN {stamp(due)} ELSE {stamp(later)} END)"
    with write_transaction():
        _insert_rows(sql, Group, {
            "group_no": "'G' || n", "offer": str(offer.id), "sku_id": str(sku.id), "leader_openid": "'ol' || n",
            "size": "3", "price_fen": "9900", "window_hours": "48", "status": "'open'", "seats": "2", "paid": "2",
            "created_at": stamp(created), "opened_at": stamp(created), "expires_at": expires,
        }, groups)  # fmt: skip
        for role, prefix in (("leader", "ol"), ("joiner", "oj")):
            _insert_rows(sql, GroupMember, {
                "group": "n", "openid": f"'{prefix}' || n", "order_no": f"'{prefix.upper()}' || n", "role": f"'{role}'",
                "status": "'paid'", "joined_at": stamp(created),
            }, groups)  # fmt: skip
            _insert_rows(sql, Order, {
                "order_no": f"'{prefix.upper()}' || n", "openid": f"'{prefix}' || n", "status": f"'{GROUPING}'",
                "title": "'拼团商品'", "subtotal_fen": "9900", "payable_fen": "9900", "created_at": stamp(created),
                "expires_at": stamp(created), "paid_at": stamp(created), "transaction_id": "'T' || n",
            }, groups)  # fmt: skip
    settle()
    return time.perf_counter() - started


def run_groups(groups: int) -> dict[str, float]:
    """The 拼团 sweep's store part over `groups` groups: the unfilled ones whose window ended fail (orders marked,
    one notice per member) and each of their payments is requested back; then its idle re-run. Sending the
    refunds to WeChat Pay is one call per payment, at the pay API's pace, and not counted here."""
    upgrade(NOW)
    populated = populate_groups(groups)
    (failed, refunds), seconds = timed(lambda: (fail_expired(NOW), refunds_owed(NOW)))
    (again, again_refunds), rerun = timed(lambda: (fail_expired(NOW), refunds_owed(NOW)))
    assert len(failed) == groups // 2 and len(refunds) == groups and not again and not again_refunds
    print(f"group buy: {len(failed):,} of {groups:,} groups failed and {len(refunds):,} refunds requested in "
          f"{seconds:.2f} s (re-run {rerun:.2f} s)")  # fmt: skip
    return {"sweeps_groups": groups, "sweeps_groups_populate_s": populated, "sweeps_groups_failed": len(failed),
            "sweeps_groups_refunds": len(refunds), "sweeps_groups_s": seconds, "sweeps_groups_rerun_s": rerun,
            "sweeps_groups_share_of_budget": seconds / BUDGET_S}  # fmt: skip


def run_groups_only(groups: int, database_url: str) -> dict[str, float]:
    open_database(database_url, Path(os.environ.get("WXSHOP_VAR_DIR", "var")))
    try:
        return run_groups(groups)
    finally:
        close_database()


def populate_bargains(bargains: int) -> float:
    """`bargains` bargains on one offer: every other one's window ended an hour ago, a quarter are still open
    and a quarter complete (neither of those is touched)."""
    started = time.perf_counter()
    sql = Dialect(is_sqlite())
    with write_transaction():
        top = Category.create(name="砍价", level=1, path="砍价")
        product = Product.create(code="KJ1", title="砍价商品", category=top)
        sku = Sku.create(code="KJ1-1", product=product, spec="", price_fen=15900, stock=10)
        offer = BargainOffer.create(sku_id=sku.id, floor_fen=9900, helpers=5, window_hours=24)
    due, later = _wall(NOW - timedelta(hours=1)), _wall(NOW + timedelta(hours=5))
    status = "(CASE WHEN n - (n / 4) * 4 = 3 THEN 'complete' ELSE 'open' END)"  # n mod 4, without `%` (psycopg2)
    expires = f"(CASE WHEN n - (n / 2) * 2 = 0 THEN '{due}' ELSE '{later}' END)"
    if not is_sqlite():
        expires = f"CAST({expires} AS TIMESTAMP)"
    with write_transaction():
        database.execute_sql(sql.insert(
            "bargain",
            "bargain_no, offer_id, sku_id, starter_openid, start_fen, floor_fen, helpers, seed, cuts, price_fen, "
            "status, created_at, expires_at",
            f"'K' || n, {offer.id}, {sku.id}, 'o' || n, 15900, 9900, 5, n, 0, 15900, {status}, "
            f"'{_wall(NOW - timedelta(hours=23))}', {expires}",
            bargains,
        ))  # fmt: skip
    settle()
    return time.perf_counter() - started


def run_bargains(bargains: int) -> dict[str, float]:
    """The 砍价 expiry sweep over `bargains` bargains, then its idle re-run (the database is open and empty)."""
    upgrade(NOW)
    populated = populate_bargains(bargains)
    expired, seconds = timed(lambda: expire_bargains(NOW))
    again, rerun = timed(lambda: expire_bargains(NOW))
    assert expired == bargains // 2 and again == 0, (expired, again)
    print(f"bargain expiry: {expired:,} of {bargains:,} bargains expired in {seconds:.2f} s (re-run {rerun:.2f} s)")
    return {"sweeps_bargains": bargains, "sweeps_bargains_populate_s": populated, "sweeps_bargains_expire_s": seconds,
            "sweeps_bargains_expired": expired, "sweeps_bargains_rerun_s": rerun,
            "sweeps_bargains_share_of_budget": seconds / BUDGET_S}  # fmt: skip


def run_bargains_only(bargains: int, database_url: str) -> dict[str, float]:
    open_database(database_url, Path(os.environ.get("WXSHOP_VAR_DIR", "var")))
    try:
        return run_bargains(bargains)
    finally:
        close_database()


def run(
    members: int, database_url: str, bargains: int = 0, commission_only: bool = False, groups: int = 0
) -> dict[str, float]:
    var = Path(os.environ.get("WXSHOP_VAR_DIR", "var"))
    open_database(database_url, var)
    figures: dict[str, float] = {"sweeps_members": members}
    try:
        upgrade(NOW)
        if commission_only:
            figures = run_commission(members)
            figures.update(sweeps_budget_s=BUDGET_S,
                           sweeps_worst_share_of_budget=figures["sweeps_commission_s"] / BUDGET_S)  # fmt: skip
            return figures
        figures.update(populate(members))
        print(f"populated {members:,} members in {figures['sweeps_populate_s']:.1f} s")

        run1, seconds = timed(lambda: sweep_birthdays(BIRTHDAY_RUN, "BDAY30"))
        run2, again = timed(lambda: sweep_birthdays(BIRTHDAY_RUN + timedelta(hours=1), "BDAY30"))
        assert run2.new == run2.coupons == run2.notices == 0
        print(f"birthdays: {run1.new} gifts, {run1.coupons} coupons, {run1.notices} notices in {seconds:.2f} s")
        figures.update(
            sweeps_birthdays_s=seconds, sweeps_birthdays_gifts=run1.new, sweeps_birthdays_rerun_s=again
        )

        changed, seconds = timed(lambda: sweep_tiers(NOW, RULES))
        rerun, again = timed(lambda: sweep_tiers(NOW, RULES))
        assert rerun == []
        per_member = naive_tiers_per_member_s(members)
        print(f"tiers: {len(changed)} changed (with their notices) in {seconds:.2f} s")
        figures.update(
            sweeps_tiers_s=seconds,
            sweeps_tiers_changed=len(changed),
            sweeps_tiers_rerun_s=again,
            sweeps_tiers_naive_us_per_member=per_member * 1e6,
            sweeps_tiers_naive_est_s=per_member * members,
            sweeps_tiers_speedup=per_member * members / seconds if seconds else 0.0,
        )

        expired, seconds = timed(lambda: expire_points(NOW))
        again_run, again = timed(lambda: expire_points(NOW))
        assert again_run.points == 0
        print(f"points expiry: {expired.points} points of {expired.members} members in {seconds:.2f} s")
        figures.update(
            sweeps_points_expiry_s=seconds,
            sweeps_points_expired_members=expired.members,
            sweeps_points_expiry_rerun_s=again,
        )

        reminded, seconds = timed(lambda: remind_points(NOW, 7))
        again_count, again = timed(lambda: remind_points(NOW, 7))
        assert again_count == 0
        print(f"points reminders: {reminded} in {seconds:.2f} s")
        figures.update(sweeps_points_reminder_s=seconds, sweeps_points_reminders=reminded)

        figures["sweeps_profiles_populate_s"] = populate_profiles(members)
        cpu = time.process_time()
        written, seconds = timed(lambda: rebuild_profiles(ProfileRules(), NOW))
        cpu = time.process_time() - cpu
        assert written == members
        stages = lifecycle_counts()
        print(f"profiles (quintiles): {written} members in {seconds:.2f} s, lifecycle {stages}")
        edges = ProfileRules(
            recency_days_edges=(7, 30, 90, 180), frequency_edges=(1, 2, 3, 5),
            monetary_fen_edges=(50000, 100000, 500000, 1000000),
        )  # fmt: skip
        _, configured = timed(lambda: rebuild_profiles(edges, NOW))
        print(f"profiles (configured edges): {configured:.2f} s")
        figures.update(sweeps_profiles_s=seconds, sweeps_profiles_edges_s=configured)
        if is_sqlite():  # the work is this process's: its CPU time is the figure a busy machine moves least
            figures["sweeps_profiles_cpu_s"] = cpu

        rebuild_profiles(ProfileRules(), NOW)
        _, imported = timed(lambda: importlib.import_module("sklearn.cluster"))  # once per worker process
        cpu = time.process_time()
        clusters, seconds = timed(lambda: recompute_clusters(6, 7, NOW))
        cpu = time.process_time() - cpu
        again, rerun = timed(lambda: recompute_clusters(6, 7, NOW))
        assert again == clusters and sum(c.size for c in clusters) == members
        for cluster in clusters:
            print(f"  cluster {cluster.describe()}")
        print(f"clusters: {len(clusters)} in {seconds:.2f} s (scikit-learn's import before it: {imported:.2f} s)")
        figures.update(
            sweeps_clusters_s=seconds, sweeps_clusters=len(clusters), sweeps_clusters_rerun_s=rerun,
            sweeps_clusters_import_s=imported,
        )
        if is_sqlite():
            figures["sweeps_clusters_cpu_s"] = cpu

        figures.update(run_commission(members))

        worst = max(
            figures[k]
            for k in ("sweeps_birthdays_s", "sweeps_tiers_s", "sweeps_points_expiry_s", "sweeps_profiles_s",
                      "sweeps_profiles_edges_s", "sweeps_clusters_s", "sweeps_commission_s")
        )  # fmt: skip
        figures.update(sweeps_budget_s=BUDGET_S, sweeps_worst_share_of_budget=worst / BUDGET_S)
        if bargains:
            figures.update(run_bargains(bargains))
        if groups:
            figures.update(run_groups(groups))
    finally:
        close_database()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 members (a smoke run)")
    parser.add_argument("--members", type=int, default=None)
    parser.add_argument("--bargains", type=int, default=None, help="bargains for the 砍价 expiry sweep (100,000)")
    parser.add_argument("--bargains-only", action="store_true", help="only the 砍价 expiry sweep")
    parser.add_argument("--groups", type=int, default=None, help="groups for the 拼团 sweep (100,000)")
    parser.add_argument("--groups-only", action="store_true", help="only the 拼团 sweep")
    parser.add_argument("--commission-only", action="store_true", help="only the commission sweep (N orders)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (a fresh schema is made and dropped)")
    args = parser.parse_args()
    members = args.members or (20000 if args.quick else 1000000)
    bargains = args.bargains or (10000 if args.quick else 100000)
    groups = args.groups or (10000 if args.quick else 100000)
    print_machine_info()
    if args.groups_only and not args.database_url:
        print(f"# database: SQLite (fresh file), {groups:,} groups")
        print_figures(run_groups_only(groups, fresh_sqlite_url("sweeps")))
        return 0
    if args.bargains_only and not args.database_url:
        print(f"# database: SQLite (fresh file), {bargains:,} bargains")
        print_figures(run_bargains_only(bargains, fresh_sqlite_url("sweeps")))
        return 0
    if not args.database_url:
        print(f"# database: SQLite (fresh file), {members:,} members")
        print_figures(run(members, fresh_sqlite_url("sweeps"), bargains, args.commission_only, groups))
        return 0
    if not urlparse(args.database_url).scheme.startswith("postgres"):
        print("--database-url must be a postgresql:// URL (SQLite is the default)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: still drop the schema (finally)
    with postgres_schema(args.database_url, "sweeps") as url:
        if args.groups_only:
            print(f"# database: PostgreSQL (a throw-away schema), {groups:,} groups")
            figures = run_groups_only(groups, url)
        elif args.bargains_only:
            print(f"# database: PostgreSQL (a throw-away schema), {bargains:,} bargains")
            figures = run_bargains_only(bargains, url)
        else:
            print(f"# database: PostgreSQL (a throw-away schema), {members:,} members")
            figures = run(members, url, bargains, args.commission_only, groups)
        print_figures({k.replace("sweeps_", "sweeps_pg_", 1): v for k, v in figures.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
