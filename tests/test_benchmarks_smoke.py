"""The matcher and understanding benchmarks run end to end in quick mode and print their figure lines (speed is
never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_run(module: str) -> subprocess.CompletedProcess[str]:
    """`python -m benchmarks.MODULE --quick`, which must succeed."""
    run = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return run


def test_matcher_benchmark_quick_run() -> None:
    run = quick_run("matcher")
    figures = dict(re.findall(r"^(matcher_\w+): (\S+)$", run.stdout, flags=re.MULTILINE))
    for size in ("200", "10k"):
        for figure in ("build_ms", "p50_us", "p99_us", "naive_p50_us", "naive_ratio_p50", "index_mb"):
            assert f"matcher_{size}_{figure}" in figures, run.stdout
    assert all(float(value) >= 0 for value in figures.values())


def test_understanding_benchmark_quick_run() -> None:
    run = quick_run("understanding")
    figures = dict(re.findall(r"^(\w+): (\S+)$", run.stdout, flags=re.MULTILINE))
    for name in ("import_ms", "train_ms", "p50_us", "p99_us", "cpu_p99_us", "dev_accuracy", "heldout_accuracy"):
        assert f"understanding_{name}" in figures, run.stdout
    assert "keyword_table_accuracy" in figures
    assert float(figures["understanding_heldout_accuracy"]) >= 0.95
