"""`wxshop demo`: the shop, a worker and the WeChat emulators on embedded defaults, in one command.

The shop server and the sandbox run in this process (so the chat preview can watch the emulated WeChat), the
job worker in a child process, started again if it dies; Ctrl-C stops all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys

from aiohttp import web

from bot.process.config import Config
from bot.sandbox.preview import setup_preview
from bot.sandbox.server import build_sandbox, sandbox_address
from bot.web.app import create_app
from bot.web.listen import CannotListen, listen
from store.core.clock import CLOCK_ENV, clock_spec, process_clock

log = logging.getLogger("wxshop.demo")


def demo_listeners(config: Config) -> list[socket.socket]:
    """The sandbox's and the shop's sockets, taken before anything else: a second demo stops with one line."""
    sockets: list[socket.socket] = []
    try:
        for host, port in (sandbox_address(config), (config.server.host, config.server.port)):
            sockets.append(listen(host, port))
    except CannotListen:
        for sock in sockets:
            sock.close()
        raise
    return sockets


CHECK_S = 1.0  # how often the demo looks at its worker
RESTART_FIRST_S, RESTART_MAX_S = 0.5, 30.0  # a worker that keeps dying is started again less and less often


async def _stopped(stop: asyncio.Event, timeout_s: float) -> bool:
    """Wait up to `timeout_s` for Ctrl-C or SIGTERM; True once it came."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout_s)
    return stop.is_set()


async def run_demo(config: Config, worker_args: list[str], listeners: list[socket.socket]) -> int:
    """Serve on `listeners` (from `demo_listeners`) until Ctrl-C or SIGTERM."""
    clock = process_clock()
    sandbox = build_sandbox(config, clock, demo=True)
    shop = create_app(config, clock=clock)
    setup_preview(shop, sandbox)
    runners: list[web.AppRunner] = []
    worker: subprocess.Popen[bytes] | None = None
    try:
        for app, sock in zip((sandbox.app, shop), listeners, strict=True):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            runners.append(runner)
            await web.SockSite(runner, sock).start()
        # The worker decides timeouts and windows by the demo's clock, whatever date that clock shows.
        worker_env = {**os.environ, CLOCK_ENV: clock_spec(clock)}
        command = [sys.executable, "-m", "bot", *worker_args, "worker"]
        worker = subprocess.Popen(command, env=worker_env)
        base = f"http://{config.server.host}:{config.server.port}"
        print(f"\nwxshop demo is running.\n  chat preview:  {base}/sandbox/", flush=True)
        print(f"  health:        {base}/healthz\nPress Ctrl-C to stop.", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        wait_s = RESTART_FIRST_S
        while not await _stopped(stop, CHECK_S):
            if worker.poll() is None:
                continue
            print(f"worker stopped (exit {worker.returncode}); starting it again in {wait_s:g} s", flush=True)
            if await _stopped(stop, wait_s):
                break
            worker = subprocess.Popen(command, env=worker_env)
            wait_s = min(wait_s * 2, RESTART_MAX_S)
    finally:
        if worker is not None:
            worker.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(15)
            if worker.poll() is None:
                worker.kill()
        for runner in reversed(runners):
            await runner.cleanup()
        for sock in listeners:
            sock.close()
    return 0
