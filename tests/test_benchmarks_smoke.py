"""The matcher benchmark runs end to end in quick mode and prints its figure lines (speed is never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_matcher_benchmark_quick_run() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.matcher", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    figures = dict(re.findall(r"^(matcher_\w+): (\S+)$", run.stdout, flags=re.MULTILINE))
    for size in ("200", "10k"):
        for figure in ("build_ms", "p50_us", "p99_us", "naive_p50_us", "naive_ratio_p50", "index_mb"):
            assert f"matcher_{size}_{figure}" in figures, run.stdout
    assert all(float(value) >= 0 for value in figures.values())
