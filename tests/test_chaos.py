"""`make chaos --quick` as part of the suite: two serves and two workers against the test's database server (or
SQLite) and a redis-server of the run's own, while a serve and both workers are killed, Redis restarts and, on
PostgreSQL, the database is unreachable for 3 s. Every message is answered, nothing is lost or duplicated."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.slow


def test_the_quick_chaos_run_loses_and_duplicates_nothing() -> None:
    args = [sys.executable, "-m", "benchmarks.chaos", "--quick"]
    url = os.environ.get("WXSHOP_TEST_DATABASE_URL", "")
    if url.startswith("postgres"):
        args += ["--database-url", url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXSHOP_")}
    run = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    figures = dict(re.findall(r"^([a-z][^:\n]+): (\S+)$", run.stdout, re.M))
    assert int(figures["messages sent"]) > 200 and figures["messages answered"] == figures["messages sent"], out
    assert int(figures["payments recorded"]) > 20, "shoppers got through checkout and paid"
    for name in ("messages lost", "orders duplicated", "payments lost", "paid notices lost", "paid notices duplicated"):
        assert figures[name] == "0", (name, out)
    assert "kill -9 worker 2" in run.stdout and "restart Redis" in run.stdout
    if url.startswith("postgres"):
        assert "PostgreSQL unreachable" in run.stdout
