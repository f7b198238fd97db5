"""The stock benchmark runs end to end in quick mode: exactly the units sold under contention, on SQLite and (when
the tests have one) PostgreSQL, and every figure line present (speed is never asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, child_env


def test_stock_benchmark_quick_run(tmp_path: Path) -> None:
    env = {"WXSHOP_VAR_DIR": str(tmp_path / "var")}
    backends = ["sqlite"]
    if os.environ.get("WXSHOP_TEST_DATABASE_URL"):
        env["WXSHOP_BENCH_DATABASE_URL"] = os.environ["WXSHOP_TEST_DATABASE_URL"]
        backends.append("postgresql")
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.stock", "--quick", "--threads", "8"],
        cwd=ROOT, env=child_env(env), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    figures = dict(re.findall(r"^(stock_\w+): (\S+)$", run.stdout, flags=re.MULTILINE))
    for backend in backends:
        assert figures[f"stock_{backend}_contention_successes"] == "100", run.stdout
        assert figures[f"stock_{backend}_contention_orders"] == "100"
        assert figures[f"stock_{backend}_contention_stock_left"] == "0"
        for name in ("orders_per_s", "create_order_p50_ms", "create_order_p99_ms", "baseline_updates_per_s",
                     "orders_vs_baseline", "contention_p99_ms"):  # fmt: skip
            assert float(figures[f"stock_{backend}_{name}"]) > 0, name
    assert (tmp_path / "var" / "bench-stock.db").exists()  # its own database, never the shop's
