"""Shared fixtures: every test gets its own database (a SQLite file, or a PostgreSQL schema) and its own Redis
namespace (a key prefix on the embedded server, or on the server named by WXSHOP_TEST_REDIS_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest

from bot.process.config import Config, load
from bot.process.embedded_redis import EmbeddedRedis
from store.core.db import close_database, open_database
from store.schema.steps import upgrade
from tests.redis_support import RedisProcess
from tests.support import config_env

TEST_DATABASE_URL = os.environ.get("WXSHOP_TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("WXSHOP_TEST_REDIS_URL", "")


@pytest.fixture(scope="session")
def redis_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Redis every test shares (namespaced by prefix): the configured server, else one embedded server."""
    if TEST_REDIS_URL:
        yield TEST_REDIS_URL
        return
    embedded = EmbeddedRedis(tmp_path_factory.mktemp("redis-var"))
    yield embedded.acquire()
    embedded.release()


@pytest.fixture
def fresh_database(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes clean databases on demand (a SQLite file, or a schema in the test PostgreSQL), dropped afterwards."""
    schemas: list[str] = []

    def make() -> str:
        if not TEST_DATABASE_URL:
            return f"sqlite:///{tmp_path / f'test-{uuid.uuid4().hex[:8]}.db'}"
        schema = f"t_{uuid.uuid4().hex[:12]}"
        _pg(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
        separator = "&" if "?" in TEST_DATABASE_URL else "?"
        return f"{TEST_DATABASE_URL}{separator}options=-c%20search_path%3D{schema}"

    yield make
    for schema in schemas:
        _pg(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def database_url(fresh_database: Callable[[], str]) -> str:
    """A clean database for one test."""
    return fresh_database()


def _pg(sql: str) -> None:
    dsn = TEST_DATABASE_URL.replace("postgresql+pool://", "postgresql://").replace("postgres+pool://", "postgres://")
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture
def redis_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def env(tmp_path: Path, database_url: str, redis_base_url: str, redis_prefix: str) -> dict[str, str]:
    """WXSHOP_* variables that point a process (ours or a child) at this test's database and Redis."""
    return config_env(tmp_path / "var", database_url, redis_base_url, redis_prefix)


@pytest.fixture
def config(tmp_path: Path, env: dict[str, str]) -> Config:
    path = tmp_path / "config.toml"
    if not path.exists():
        path.write_text("# test config: everything comes from the environment\n", encoding="utf-8")
    return load(path, env=env)


@pytest.fixture
def migrated(config: Config) -> Iterator[Config]:
    """The test's database at the latest schema, bound to the proxy for direct store calls."""
    open_database(config.database.url, config.var_dir)
    upgrade()
    close_database()
    yield config
    close_database()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of the test's own, which it may stop and start again on the same port (an outage)."""
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.stop()
