"""Schema upgrades are idempotent, and nothing runs on a stale schema."""

from __future__ import annotations

from bot.config import Config
from bot.sandbox.ports import free_port
from store.db import close_database, database, open_database
from store.schema import LATEST, STEPS, SchemaVersion, current_version, upgrade
from tests.support import wxshop


def test_upgrade_twice_is_harmless(config: Config) -> None:
    open_database(config.database.url, config.var_dir)
    try:
        assert current_version() == 0
        first = upgrade()
        assert [s.version for s in first] == [s.version for s in STEPS]
        assert upgrade() == []
        assert current_version() == LATEST
        assert SchemaVersion.select().count() == len(STEPS)
        assert database.table_exists("follower") and database.table_exists("heartbeat")
    finally:
        close_database()


def test_cli_upgrade_then_status(env: dict[str, str]) -> None:
    assert wxshop("db", "status", env=env).returncode == 1
    first = wxshop("db", "upgrade", env=env)
    assert first.returncode == 0 and "applied 1:" in first.stdout
    again = wxshop("db", "upgrade", env=env)
    assert again.returncode == 0 and "already up to date" in again.stdout
    status = wxshop("db", "status", env=env)
    assert status.returncode == 0 and f"schema version {LATEST}" in status.stdout


def make_stale(config: Config) -> None:
    """A database one step behind the code: the last step's version row is gone."""
    open_database(config.database.url, config.var_dir)
    try:
        upgrade()
        SchemaVersion.delete().where(SchemaVersion.version == LATEST).execute()
    finally:
        close_database()


def test_server_refuses_a_stale_schema(config: Config, env: dict[str, str]) -> None:
    make_stale(config)
    port = free_port()
    result = wxshop("serve", env={**env, "WXSHOP_SERVER__PORT": str(port)}, timeout=30)
    assert result.returncode == 2
    assert "run `wxshop db upgrade`" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_refuses_a_stale_schema(config: Config, env: dict[str, str]) -> None:
    make_stale(config)
    result = wxshop("worker", "--burst", env=env, timeout=30)
    assert result.returncode == 2
    assert "run `wxshop db upgrade`" in result.stderr


def test_a_step_missing_below_the_latest_is_noticed(config: Config, env: dict[str, str]) -> None:
    """Steps from two branches can land out of order: a database with the newest step but not an older one is not
    current, and `db upgrade` applies the one it lacks."""
    older = STEPS[-2].version
    open_database(config.database.url, config.var_dir)
    try:
        upgrade()
        SchemaVersion.delete().where(SchemaVersion.version == older).execute()
        assert current_version() == LATEST
    finally:
        close_database()
    status = wxshop("db", "status", env=env)
    assert status.returncode == 1 and f"missing step(s) {older}" in status.stdout
    refused = wxshop("worker", "--burst", env=env, timeout=30)
    assert refused.returncode == 2 and f"without step(s) {older}" in refused.stderr
    upgraded = wxshop("db", "upgrade", env=env)
    assert upgraded.returncode == 0 and f"applied {older}:" in upgraded.stdout
    assert wxshop("db", "status", env=env).returncode == 0
