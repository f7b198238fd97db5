"""The outbox benchmark runs end to end in quick mode and prints its figure lines (speed is never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, child_env

pytestmark = pytest.mark.slow


def test_outbox_benchmark_quick_run(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.outbox", "--quick"],
        cwd=ROOT,
        env=child_env({"WXSHOP_VAR_DIR": str(tmp_path / "var")}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    figures = dict(re.findall(r"^(outbox_\w+): (\S+)$", run.stdout, flags=re.MULTILINE))
    for name in (
        "notices", "seconds", "notices_per_s", "bare_client_per_s", "ratio_to_bare_client", "sent_template",
        "template_quota", "quota_exceeded", "duplicates", "kill_duplicates", "kill_in_doubt", "kill_seconds",
        "kill_lost", "lost",
    ):  # fmt: skip
        assert f"outbox_{name}" in figures, run.stdout
    assert all(float(value) >= 0 for value in figures.values())
    assert figures["outbox_quota_exceeded"] == "0"
    assert figures["outbox_duplicates"] == figures["outbox_kill_duplicates"] == "0"
    assert figures["outbox_lost"] == figures["outbox_kill_lost"] == "0" and figures["outbox_kill_kills"] == "2"
    assert re.search(r"^# kill: 2 × kill -9 .*: lost = 0, duplicates = 0, in doubt = \d+", run.stdout, re.MULTILINE)
    assert "# cpus:" in run.stdout and "phase" in run.stdout
    assert (tmp_path / "var" / "bench-outbox-kill.db").exists()  # the benchmark's own databases, not the shop's
