"""The inbound benchmark runs end to end in quick mode (our server and the echo bot, every mix) and prints its
figure lines. Speed is never asserted; that every mix was answered with no errors is."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support import child_env

ROOT = Path(__file__).resolve().parents[1]
MIXES = (
    "keyword", "flow", "flow_db", "keyword_list", "search", "search_list", "knowledge", "knowledge_list", "fallback",
    "fallback_rounds", "event_db", "aes",
)  # fmt: skip


def test_inbound_benchmark_quick_run(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.inbound", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=child_env({"TMPDIR": str(tmp_path)}),  # its servers' files under this test's directory
    )
    assert run.returncode == 0, run.stdout + run.stderr
    figures = dict(re.findall(r"^(inbound_\w+): (\S+)$", run.stdout, flags=re.MULTILINE))
    for mix in MIXES:
        for figure in ("msgs_per_s", "echo_msgs_per_s", "ratio", "p99_ms", "cpu_us_per_msg"):
            assert float(figures[f"inbound_{mix}_{figure}"]) > 0, run.stdout
        assert figures[f"inbound_{mix}_errors"] == "0", run.stdout
    assert float(figures["inbound_overload_max_ms"]) > 0
    assert figures["inbound_hostile_bodies_unexpected"] == "0", run.stdout  # deep and wide: 400, huge text: 200
    assert figures["inbound_hostile_errors"] == "0" and float(figures["inbound_hostile_p99_ms"]) > 0, run.stdout
