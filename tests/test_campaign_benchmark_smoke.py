"""The campaign benchmark runs end to end in quick mode (400 followers through a real worker) and prints its figure
lines: nothing sent twice or lost, the template quota kept (speed is never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, child_env

pytestmark = pytest.mark.slow


def test_campaign_benchmark_quick_run(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.campaign", "--quick"],
        cwd=ROOT,
        env=child_env({"WXSHOP_VAR_DIR": str(tmp_path / "var")}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    figures = {k: float(v) for k, v in re.findall(r"^(campaign_\w+): (\S+)$", run.stdout, flags=re.MULTILINE)}
    for name in ("queue_s", "send_s", "messages_per_s", "bare_client_per_s", "ratio_to_bare_client", "quota_used"):
        assert figures[f"campaign_{name}"] > 0, run.stdout
    assert figures["campaign_followers"] == figures["campaign_queued"] == 400, "the segment, not those who left"
    assert figures["campaign_duplicates"] == figures["campaign_lost"] == figures["campaign_quota_exceeded"] == 0
    # every tenth follower has a window: customer-service; the rest template, up to the campaign's 90 % share of
    # the quota after the order notices took theirs; the remainder waits for tomorrow
    assert figures["campaign_sent_custom"] == 40
    assert figures["campaign_order_notices_sent"] == figures["campaign_order_notices"] == 40
    assert figures["campaign_quota_used"] == figures["campaign_member_care_ceiling"] == 360
    assert figures["campaign_sent_template"] == 360 - 40
    assert figures["campaign_deferred_to_tomorrow"] == 400 - 40 - 320
    assert re.search(r"^# duplicates = 0, lost = 0, in doubt = 0", run.stdout, re.MULTILINE), run.stdout
    assert (tmp_path / "var" / "bench-campaign.db").exists()  # the benchmark's own database, not the shop's
