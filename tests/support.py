"""Helpers for tests that run real processes: free ports, child environments, waiting for readiness."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from aiohttp.test_utils import TestServer

ROOT = Path(__file__).resolve().parent.parent


def config_env(var_dir: Path, database_url: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    return {
        "WXSHOP_VAR_DIR": str(var_dir),
        "WXSHOP_DATABASE__URL": database_url,
        "WXSHOP_REDIS__URL": redis_url,
        "WXSHOP_REDIS__PREFIX": redis_prefix,
    }


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The current environment minus any WXSHOP_ settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXSHOP_")}
    env.update(extra)
    return env


def wxshop(*args: str, env: dict[str, str], cwd: Path | None = None, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=child_env(env),
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=kw.pop("timeout", 60),
        **kw,
    )


def spawn(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        env=child_env(env),
        cwd=cwd or ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll a condition with a deadline: waiting for another process to be ready, never for a timer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def await_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """`wait_until` for a test whose event loop serves the other process meanwhile (the sandbox's APIs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def wait_healthy(port: int, proc: subprocess.Popen[str] | None = None, timeout: float = 30.0) -> None:
    def ready() -> bool:
        if proc is not None and proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"server exited with {proc.returncode}:\n{output}")
        return http_status(f"http://127.0.0.1:{port}/healthz") == 200

    wait_until(ready, timeout, f"/healthz on port {port}")


async def start_app_server(server: TestServer) -> None:
    """Start a test server; when the app fails to start, close what its cleanup contexts had opened already.
    aiohttp's `TestServer.close` does nothing for a server that never started, so without this a failed start
    leaves Redis connections open until the loop is gone (and a later test trips over their warnings)."""
    try:
        await server.start_server()
    except BaseException:
        if server.runner is not None:
            await server.runner.cleanup()
        raise
