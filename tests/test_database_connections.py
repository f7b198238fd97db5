"""The database handle against a real PostgreSQL server that drops our connection (a restart, a network cut):
the statement in hand fails, the next one gets a fresh connection instead of "connection already closed" for
the rest of the process's life. SQLite has no server to lose."""

from __future__ import annotations

import peewee
import psycopg2
import pytest

from bot.process.config import Config
from store.core.db import NETWORK_LIMITS, close_database, database, is_sqlite, open_database
from tests.conftest import TEST_DATABASE_URL


@pytest.fixture
def postgres(migrated: Config) -> Config:
    if not TEST_DATABASE_URL:
        pytest.skip("needs the test PostgreSQL server (WXSHOP_TEST_DATABASE_URL)")
    open_database(migrated.database.url, migrated.var_dir)
    assert not is_sqlite()
    return migrated


def _terminate(pid: int) -> None:
    with psycopg2.connect(TEST_DATABASE_URL) as other, other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_the_server_dropped_is_replaced_by_the_next_statement(postgres: Config) -> None:
    pid = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    _terminate(pid)
    with pytest.raises((peewee.OperationalError, peewee.InterfaceError)):
        database.execute_sql("SELECT 1")  # the statement in hand sees the loss
    again = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    assert again != pid, "a fresh connection, not 'connection already closed' forever"
    with database.atomic():  # transactions work on it too
        assert database.execute_sql("SELECT 2").fetchone()[0] == 2
    close_database()


def test_connections_carry_the_network_limits(postgres: Config) -> None:
    dsn = database.connection().get_dsn_parameters()
    for name in ("connect_timeout", "tcp_user_timeout", "keepalives_idle"):
        assert dsn[name] == str(NETWORK_LIMITS[name]), (name, dsn)
    close_database()
