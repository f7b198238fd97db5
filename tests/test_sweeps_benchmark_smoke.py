"""The sweeps benchmark runs end to end in quick mode and prints its figure lines (speed is never asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = (
    "members", "populate_s", "birthdays_s", "birthdays_gifts", "tiers_s", "tiers_changed", "tiers_naive_est_s",
    "points_expiry_s", "points_expired_members", "points_reminder_s", "points_reminders", "profiles_s",
    "profiles_edges_s", "profiles_cpu_s", "clusters_s", "clusters", "worst_share_of_budget",
)  # fmt: skip


def test_sweeps_benchmark_quick_run(tmp_path: Path) -> None:
    env = {**os.environ, "WXSHOP_VAR_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.sweeps", "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    figures = dict(re.findall(r"^sweeps_(\w+): (\S+)$", run.stdout, flags=re.MULTILINE))
    for name in FIGURES:
        assert name in figures, run.stdout
    assert float(figures["members"]) == 20000
    assert float(figures["birthdays_gifts"]) > 0 and float(figures["points_reminders"]) > 0
    assert all(float(value) >= 0 for value in figures.values())


def test_bargain_sweep_benchmark_quick_run(tmp_path: Path) -> None:
    env = {**os.environ, "WXSHOP_VAR_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.sweeps", "--quick", "--bargains-only"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    figures = dict(re.findall(r"^sweeps_(\w+): (\S+)$", run.stdout, flags=re.MULTILINE))
    assert float(figures["bargains"]) == 10000 and float(figures["bargains_expired"]) == 5000, run.stdout
    assert float(figures["bargains_expire_s"]) >= 0 and "members" not in figures
