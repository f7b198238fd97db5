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
from playhouse.db_url import connect, parseresult_to_dict
from playhouse.pool import PooledPostgresqlDatabase

from store.core.clock import SHANGHAI

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
        db = connect_postgres(url)
    database.initialize(db)
    return db


# A server that stops answering (a host gone, packets dropped) fails the statement in seconds, and the message in
# hand gets a polite reply, rather than holding a handler thread for the kernel's two-hour keepalive: connecting
# gives up after 5 s, data unacknowledged for 10 s drops the connection, and an idle one is probed every 30 s.
NETWORK_LIMITS = {
    "connect_timeout": 5,
    "tcp_user_timeout": 10_000,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


class DropsBrokenConnections:
    """PostgreSQL that gets over losing its server. psycopg2 marks a connection the server or the network dropped
    as closed, but peewee keeps it as the thread's connection, so every later query on that thread failed with
    "connection already closed" until the process restarted. Here a dropped connection is let go before the next
    statement outside a transaction (inside one, the transaction fails as it must), and a fresh one is opened."""

    def cursor(self, named_cursor=None):  # type: ignore[no-untyped-def]
        conn = self._state.conn  # type: ignore[attr-defined]
        if conn is not None and not self._state.closed and conn.closed and not self.in_transaction():  # type: ignore[attr-defined]
            self.close()  # type: ignore[attr-defined]
        return super().cursor(named_cursor)  # type: ignore[misc]


class PostgresDatabase(DropsBrokenConnections, peewee.PostgresqlDatabase):
    pass


class PooledPostgresDatabase(DropsBrokenConnections, PooledPostgresqlDatabase):
    pass


POSTGRES_SCHEMES = {
    "postgres": PostgresDatabase, "postgresql": PostgresDatabase,
    "postgres+pool": PooledPostgresDatabase, "postgresql+pool": PooledPostgresDatabase,
}  # fmt: skip


def connect_postgres(url: str) -> peewee.Database:
    """The database a URL names (as playhouse's `connect` would), PostgreSQL with `NETWORK_LIMITS` unless the URL
    sets them and dropping broken connections."""
    parsed = urlparse(url)
    cls = POSTGRES_SCHEMES.get(parsed.scheme)
    if cls is None:
        return connect(url)
    return cls(**{**NETWORK_LIMITS, **parseresult_to_dict(parsed)})


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


@contextmanager
def write_lock() -> Iterator[None]:
    """This process's SQLite writer lock without a transaction, for a single statement that commits by itself
    (BEGIN IMMEDIATE and COMMIT would be two more statements). PostgreSQL needs nothing."""
    lock = getattr(database.obj, "write_lock", None)
    if lock is None:
        yield
        return
    with lock:
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


def datetime_value(when: datetime) -> peewee.Value:
    """A datetime as a literal in INSERT … SELECT, stored as every ShanghaiDateTimeField stores it."""
    return peewee.Value(ShanghaiDateTimeField().db_value(when))
