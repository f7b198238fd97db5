"""Structured logs: one line per event; JSON with --log-format json, fields included."""

from __future__ import annotations

import json

from bot.process.config import Config
from tests.support import wxshop


def test_json_log_lines(migrated: Config, env: dict[str, str]) -> None:
    result = wxshop("--log-format", "json", "worker", "--burst", env=env)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    started = [e for e in events if e["msg"] == "worker started"]
    assert started and started[0]["level"] == "info" and started[0]["logger"] == "wxshop.worker"
    assert started[0]["burst"] is True and started[0]["queue"].startswith(env["WXSHOP_REDIS__PREFIX"])
    assert all("ts" in e for e in events)


def test_text_log_lines(migrated: Config, env: dict[str, str]) -> None:
    result = wxshop("worker", "--burst", env=env)
    assert result.returncode == 0
    line = next(line for line in result.stderr.splitlines() if "worker started" in line)
    assert "INFO" in line and "burst=True" in line and not line.startswith("{")
