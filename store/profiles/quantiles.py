"""Quintile edges for the profiles' scores: the four values that start the 2nd..5th fifths of a column, read from
a temporary table of buyers' totals (SQLite: an index and four reads; PostgreSQL: one percentile_disc statement)
or from a histogram of small counts."""

from __future__ import annotations

from store.core.db import database, is_sqlite
from store.profiles.rules import ProfileRules


def quintiles(table: str, rules: ProfileRules, buyers: int) -> dict[str, list[object]]:
    """Quintile edges, over `buyers` rows of `table`, of the columns whose edges are not configured."""
    wanted = [
        column
        for column, configured in (("last_paid", rules.recency_days_edges), ("frequency", rules.frequency_edges),
                                   ("monetary", rules.monetary_fen_edges))
        if not configured
    ]  # fmt: skip
    if not wanted:
        return {}
    if is_sqlite():
        return {column: _edges_sqlite(table, column, buyers) for column in wanted}
    return _edges_postgres(table, wanted, buyers)


def _edges_sqlite(table: str, column: str, buyers: int) -> list[object]:
    """The values that start the 2nd..5th fifths: score = 1 + how many of them the member's value reaches.

    With v sorted ascending (1-based), "at least j values are ≤ x" is "x ≥ v[j]", so x is in a fifth above k
    (more than k/5 of buyers at or below it) exactly when x ≥ v[⌊k·N/5⌋ + 1]. Ties share a score. One index
    sort per column and four index reads, instead of window functions (three sorts of every buyer)."""
    database.execute_sql(f"CREATE INDEX {table}_{column} ON {table} ({column})")
    return [
        database.execute_sql(
            f"SELECT {column} FROM {table} ORDER BY {column} LIMIT 1 OFFSET {k * buyers // 5}"
        ).fetchone()[0]
        for k in range(1, 5)
    ]


def _edges_postgres(table: str, columns: list[str], buyers: int) -> dict[str, list[object]]:
    """The same edges on PostgreSQL, every column in one statement: `percentile_disc(p)` is the value at 1-based
    position ⌈p·N⌉, so p = (⌊k·N/5⌋ + ½) / N picks v[⌊k·N/5⌋ + 1] whatever the rounding. One in-memory sort per
    column; walking an index to an OFFSET read up to 800,000 entries per edge (0.8 s each at 1,000,000)."""
    fractions = ", ".join(f"{(k * buyers // 5 + 0.5) / buyers!r}" for k in range(1, 5))
    picks = ", ".join(
        f"percentile_disc(ARRAY[{fractions}]::float8[]) WITHIN GROUP (ORDER BY {column})" for column in columns
    )
    row = database.execute_sql(f"SELECT {picks} FROM {table}").fetchone()
    return {column: list(edges) for column, edges in zip(columns, row, strict=True)}


def histogram_edges(histogram: list[tuple[int, int]]) -> list[int]:
    """Quintile edges (as `_edges_sqlite` defines them) from ascending (value, how many) pairs."""
    total = sum(count for _, count in histogram)
    if not total:
        return []
    edges, seen, values = [], 0, iter(histogram)
    value, count = next(values)
    for k in range(1, 5):
        position = k * total // 5  # 0-based position of the edge in the sorted values
        while seen + count <= position:
            seen += count
            value, count = next(values)
        edges.append(value)
    return edges
