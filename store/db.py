"""The database handle: one `DatabaseProxy` that every model binds to, initialised once at start-up."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import peewee
from playhouse.db_url import connect

from store.clock import SHANGHAI

database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "cache_size": -32000,
}


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


def open_database(url: str, var_dir: Path) -> peewee.Database:
    """Bind the proxy to PostgreSQL or SQLite (`var/wxshop.db` when `url` is empty) and return the database."""
    if not url:
        var_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(var_dir / 'wxshop.db').resolve()}"
    scheme = urlparse(url).scheme
    if scheme.startswith("sqlite"):
        db = connect(url, pragmas=SQLITE_PRAGMAS, timeout=10)
        db.write_lock = threading.RLock()
        _use_wal(db)
    else:
        db = connect(url)
    database.initialize(db)
    return db


def _use_wal(db: peewee.Database, attempts: int = 50) -> None:
    """Switch the file to WAL once (it persists). The switch needs a moment alone with the file and SQLite does
    not wait for it, so processes starting together retry briefly instead of failing with "locked"."""
    for attempt in range(attempts):
        try:
            db.execute_sql("PRAGMA journal_mode=wal")
            return
        except peewee.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


@contextmanager
def write_transaction() -> Iterator[None]:
    """A transaction that will write. SQLite has one writer at a time: this process's writers queue on a lock
    instead of falling into SQLite's sleeping busy handler, and BEGIN IMMEDIATE takes the write lock up front so
    a read-then-write transaction cannot deadlock. PostgreSQL gets a plain transaction."""
    db = database.obj
    lock = getattr(db, "write_lock", None)
    if lock is None:
        with database.atomic():
            yield
        return
    with lock, database.atomic("IMMEDIATE"):
        yield


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


def close_database() -> None:
    if database.obj is not None and not database.is_closed():
        database.close()


class ShanghaiDateTimeField(peewee.DateTimeField):
    """Stores Asia/Shanghai wall time (China has no DST) and hands back aware datetimes on both backends."""

    def db_value(self, value):  # type: ignore[override]
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(SHANGHAI).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):  # type: ignore[override]
        value = super().python_value(value)
        if isinstance(value, datetime):
            return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value.astimezone(SHANGHAI)
        return value
