"""The search benchmark runs end to end in quick mode and prints its figure lines (speed is never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, child_env


def test_search_benchmark_quick_run(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.search", "--quick"],
        cwd=ROOT,
        env=child_env({"WXSHOP_VAR_DIR": str(tmp_path / "var")}),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    figures = dict(re.findall(r"^(search_\w+|catalog_\w+): (\S+)$", run.stdout, flags=re.MULTILINE))
    for name in ("p50_ms", "p99_ms", "baseline_like_p50_ms", "speedup_vs_like", "index_build_s", "index_mib"):
        assert f"search_2k_{name}" in figures, run.stdout
    assert "catalog_import_rows_per_s" in figures
    assert all(float(value) >= 0 for value in figures.values())
    assert (tmp_path / "var" / "bench-search.db").exists()  # the benchmark's own database, not the shop's
