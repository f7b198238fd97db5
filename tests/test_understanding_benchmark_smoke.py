"""The understanding benchmark runs end to end in quick mode and prints its figure lines (speed is never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_understanding_benchmark_quick_run() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.understanding", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    figures = dict(re.findall(r"^(\w+): (\S+)$", run.stdout, flags=re.MULTILINE))
    for name in ("import_ms", "train_ms", "p50_us", "p99_us", "cpu_p99_us", "dev_accuracy", "heldout_accuracy"):
        assert f"understanding_{name}" in figures, run.stdout
    assert "keyword_table_accuracy" in figures
    assert float(figures["understanding_heldout_accuracy"]) >= 0.95
