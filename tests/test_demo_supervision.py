"""`wxshop demo` keeps its worker: a worker that dies (killed, out of memory) is started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bot.sandbox.ports import free_port
from tests.support import ROOT, child_env, http_status, wait_until


def worker_of(parent: int) -> int | None:
    """The pid of `parent`'s child running `wxshop worker`, read from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"worker" in cmdline:
            state = stat.rsplit(")", 1)[1].split()[0]
            if state != "Z":
                return int(entry.name)
    return None


def test_the_demo_starts_its_worker_again_when_it_dies(env: dict[str, str], tmp_path: Path) -> None:
    port, sandbox = free_port(), f"http://127.0.0.1:{free_port()}"
    settings = {
        **env,
        "WXSHOP_SERVER__PORT": str(port),
        "WXSHOP_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "WXSHOP_WECHAT__API_BASE_URL": sandbox,
        "WXSHOP_PAY__API_BASE_URL": sandbox,
        "WXSHOP_LOGISTICS__API_BASE_URL": sandbox,
    }
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "bot", "demo"], env=child_env(settings), cwd=ROOT, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(lambda: http_status(f"http://127.0.0.1:{port}/healthz") == 200, 60, "the demo")
        wait_until(lambda: worker_of(demo.pid) is not None, 30, "the demo's worker")
        first = worker_of(demo.pid)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: worker_of(demo.pid) not in (None, first), 30, "a new worker")
        assert demo.poll() is None, "the demo itself carries on"
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(30)
    assert "worker stopped (exit -9); starting it again in 0.5 s" in log.read_text()
    assert worker_of(demo.pid) is None, "Ctrl-C (SIGTERM) stops the worker too"
