"""Where the database benchmarks keep their data: a fresh SQLite file under the var directory, or a throw-away
schema in a PostgreSQL database (so a benchmark never touches real tables and leaves nothing behind)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

from store.core.db import close_database


def var_dir() -> Path:
    return Path(os.environ.get("WXSHOP_VAR_DIR", "var"))


def fresh_sqlite_url(name: str) -> str:
    """`sqlite:///…/bench-{name}.db` with any earlier run's file (and its WAL) removed."""
    var = var_dir()
    var.mkdir(parents=True, exist_ok=True)
    path = (var / f"bench-{name}.db").resolve()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


@contextmanager
def postgres_schema(url: str, name: str) -> Iterator[str]:
    """A new schema `bench_{name}_…` in the database at `url`; yields the URL that works in it, drops it after."""
    schema = f"bench_{name}_{secrets.token_hex(4)}"
    _execute(url, f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-c%20search_path%3D{schema}"
    finally:
        close_database()
        _execute(url, f"DROP SCHEMA {schema} CASCADE")


def _execute(url: str, sql: str) -> None:
    conn = psycopg2.connect(url.replace("+pool", ""))
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()
