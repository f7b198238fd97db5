"""`wxshop serve` as a user runs it: no config at all, SIGTERM, several processes, the shared embedded Redis."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from bot.sandbox.ports import free_port
from tests.support import http_status, spawn, wait_healthy, wait_until

pytestmark = pytest.mark.slow


def redis_servers_for(var_dir: Path) -> list[int]:
    """PIDs of redis-server processes serving the embedded socket under `var_dir`."""
    marker = str((var_dir / "redis").resolve())
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "redis-server" in cmdline and marker in cmdline:
            pids.append(int(entry.name))
    return pids


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.stdout:
            proc.stdout.close()


def test_no_config_at_all_answers_healthz_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    proc = spawn("serve", env={"WXSHOP_SERVER__PORT": str(port)}, cwd=tmp_path)
    try:
        wait_healthy(port, proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            body = json.load(response)
        assert body["status"] == "ok" and body["database"] == "ok" and body["redis"] == "ok"
        assert (tmp_path / "var" / "wxshop.db").exists()
        assert len(redis_servers_for(tmp_path / "var")) == 1
    finally:
        code = stop(proc)
    assert code == 0
    wait_until(lambda: not redis_servers_for(tmp_path / "var"), 15, "the embedded Redis to stop with its last user")


def test_two_serve_processes_share_one_embedded_redis(tmp_path: Path) -> None:
    ports = [free_port(), free_port()]
    procs = [spawn("serve", env={"WXSHOP_SERVER__PORT": str(p)}, cwd=tmp_path) for p in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_healthy(port, proc)
        assert len(redis_servers_for(tmp_path / "var")) == 1
        assert stop(procs[0]) == 0
        assert http_status(f"http://127.0.0.1:{ports[1]}/healthz") == 200, "the survivor keeps the shared Redis"
        assert len(redis_servers_for(tmp_path / "var")) == 1
    finally:
        for proc in procs:
            if proc.poll() is None:
                stop(proc)
    wait_until(lambda: not redis_servers_for(tmp_path / "var"), 15, "the embedded Redis to stop")


def test_workers_share_one_port(tmp_path: Path, env: dict[str, str]) -> None:
    port = free_port()
    proc = spawn("serve", "--workers", "2", env={**env, "WXSHOP_SERVER__PORT": str(port)}, cwd=tmp_path)
    try:
        wait_healthy(port, proc)
        for _ in range(20):
            assert http_status(f"http://127.0.0.1:{port}/healthz") == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert 'wxshop_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    finally:
        code = stop(proc)
    assert code == 0
    assert http_status(f"http://127.0.0.1:{port}/healthz") is None
