"""Schema upgrades are idempotent, and nothing runs on a stale schema."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bot.process.config import Config
from bot.sandbox.ports import free_port
from store.chat.nlu import NluExample
from store.core.clock import SHANGHAI
from store.core.db import close_database, database, open_database
from store.outbox.notices import IN_DOUBT, Notice, enqueue_notice
from store.schema.steps import LATEST, STEPS, SchemaVersion, current_version, upgrade
from tests.support import ROOT, spawn, wait_healthy, wxshop


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


# A process that opens the database, waits for the go file (so all of them race), then starts as serve and worker
# do: `prepare()` creates the schema in an empty database or insists it is current.
PREPARE = """
import sys, time
from pathlib import Path
from store.core.db import open_database
from store.schema.steps import SchemaOutOfDate, prepare
open_database(sys.argv[1], Path(sys.argv[2]))
go = Path(sys.argv[3])
while not go.exists():
    time.sleep(0.002)
try:
    prepare()
except SchemaOutOfDate as exc:
    print(exc)
    sys.exit(2)
"""


def test_processes_starting_together_on_an_empty_database_all_come_up(
    fresh_database: Callable[[], str], tmp_path: Path
) -> None:
    for round_ in range(6):
        url, go = fresh_database(), tmp_path / f"go-{round_}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", PREPARE, url, str(tmp_path / "var"), str(go)],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            for _ in range(4)
        ]
        go.touch()
        outcomes = [(proc.wait(timeout=60), proc.communicate()[0]) for proc in procs]
        assert all(code == 0 for code, _ in outcomes), f"round {round_}: {outcomes}"
        open_database(url, tmp_path / "var")
        try:
            assert current_version() == LATEST and SchemaVersion.select().count() == len(STEPS)
        finally:
            close_database()


def test_a_serve_and_a_worker_starting_together_on_an_empty_database_both_run(
    fresh_database: Callable[[], str], env: dict[str, str]
) -> None:
    for _ in range(3):
        port = free_port()
        both = {**env, "WXSHOP_DATABASE__URL": fresh_database(), "WXSHOP_SERVER__PORT": str(port)}
        server = spawn("serve", env=both)
        try:
            worker = wxshop("worker", "--burst", env=both, timeout=60)
            wait_healthy(port, server)
        finally:
            server.terminate()
            output = server.communicate(timeout=30)[0]
        assert worker.returncode == 0, worker.stdout + worker.stderr
        assert "schema" not in output, output


def test_examples_taught_for_the_old_cart_intent_follow_its_new_name(config: Config) -> None:
    open_database(config.database.url, config.var_dir)
    try:
        upgrade()
        now = datetime(2026, 6, 1, tzinfo=SHANGHAI)
        NluExample.create(text="去结账", intent="cart", created_at=now)
        SchemaVersion.delete().where(SchemaVersion.version == 13).execute()
        assert [step.version for step in upgrade()] == [13]
        assert NluExample.get(NluExample.text == "去结账").intent == "checkout"
    finally:
        close_database()


def test_notices_once_failed_or_dropped_in_doubt_get_their_own_status(config: Config) -> None:
    open_database(config.database.url, config.var_dir)
    try:
        upgrade()
        now = datetime(2026, 6, 1, tzinfo=SHANGHAI)
        rows = {
            "failed": ("failed", "in_doubt: a customer-service send was under way when its worker stopped"),
            "dropped": ("dropped", "in_doubt: a custom send was under way when its worker stopped; not sent twice"),
            "refused": ("failed", "error: 45028 has no masssend quota"),
        }
        ids = {name: enqueue_notice(f"o_{name}", "gift_reminder", {"expires_at": "2026-06-02 10:00"}, 3, now)
               for name in rows}  # fmt: skip
        for name, (status, reason) in rows.items():
            Notice.update(status=status, reason=reason).where(Notice.id == ids[name]).execute()
        SchemaVersion.delete().where(SchemaVersion.version == 14).execute()
        assert [step.version for step in upgrade()] == [14]
        assert [Notice.get_by_id(ids[n]).status for n in rows] == [IN_DOUBT, IN_DOUBT, "failed"]
        assert database.table_exists("payment_window")
    finally:
        close_database()
