"""The job worker: a deferred job runs exactly once however many workers compete for it."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from bot.jobs.worker import enqueue
from bot.process.config import Config
from bot.process.resources import open_resources
from store.monitoring.heartbeat import Heartbeat
from tests.support import ROOT, child_env

pytestmark = pytest.mark.slow


def burst_workers(env: dict[str, str], count: int) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "worker", "--burst"],
            env=child_env(env),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(count)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, ""))
    return results


def test_deferred_job_runs_once_across_two_workers(migrated: Config, env: dict[str, str]) -> None:
    resources = open_resources(migrated)
    try:
        due = resources.clock.now() - timedelta(seconds=1)
        job_id = resources.key("beat-once")  # arq's job keys are global: namespace the id like the product does
        first = enqueue(resources, "beat", "test", _job_id=job_id, _defer_until=due)
        again = enqueue(resources, "beat", "test", _job_id=job_id, _defer_until=due)
        assert first == job_id
        assert again is None, "the queue refuses a second job with the same id"

        results = burst_workers(env, 2)
        for result in results:
            assert result.returncode == 0, result.stdout

        rows = list(Heartbeat.select().where(Heartbeat.job_id == job_id))
        assert len(rows) == 1
        assert rows[0].source.startswith("test@")
    finally:
        resources.close_sync()


def test_worker_runs_several_jobs_and_each_once(migrated: Config, env: dict[str, str]) -> None:
    resources = open_resources(migrated)
    try:
        ids = [resources.key(f"bulk-{i}") for i in range(12)]
        for job_id in ids:
            assert enqueue(resources, "beat", "bulk", _job_id=job_id) == job_id
        results = burst_workers(env, 2)
        assert all(r.returncode == 0 for r in results), [r.stdout for r in results]
        found = [row.job_id for row in Heartbeat.select().where(Heartbeat.source.startswith("bulk@"))]
        assert sorted(found) == sorted(ids)
    finally:
        resources.close_sync()


def test_a_burst_run_does_what_is_due_and_leaves_what_is_deferred(migrated: Config, env: dict[str, str]) -> None:
    """`--burst` from cron must not wait half an hour for an order's payment window to close."""
    resources = open_resources(migrated)
    try:
        now = resources.clock.now()
        due, later = resources.key("due-now"), resources.key("due-later")
        assert enqueue(resources, "beat", "burst", _job_id=due, _defer_until=now - timedelta(minutes=1)) == due
        assert enqueue(resources, "beat", "burst", _job_id=later, _defer_until=now + timedelta(minutes=30)) == later
        [result] = burst_workers(env, 1)
        assert result.returncode == 0, result.stdout
        assert [row.job_id for row in Heartbeat.select().where(Heartbeat.source.startswith("burst@"))] == [due]
        assert resources.redis.zscore(resources.queue_name, later) is not None, "still queued for later"
    finally:
        resources.close_sync()
