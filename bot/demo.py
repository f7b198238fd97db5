"""`wxshop demo`: the shop, a worker and the WeChat emulators on embedded defaults, in one command.

The shop server and the sandbox run in this process (so the chat preview can watch the emulated WeChat), the
job worker in a child process; Ctrl-C stops all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys

from aiohttp import web

from bot.app import create_app
from bot.config import Config
from bot.sandbox.preview import setup_preview
from bot.sandbox.server import build_sandbox
from store.clock import CLOCK_ENV, clock_spec, process_clock

log = logging.getLogger("wxshop.demo")


async def run_demo(config: Config, worker_args: list[str]) -> int:
    clock = process_clock()
    sandbox = build_sandbox(config, clock, demo=True)
    shop = create_app(config, clock=clock)
    setup_preview(shop, sandbox)
    runners = [web.AppRunner(sandbox.app, access_log=None), web.AppRunner(shop, access_log=None)]
    for runner in runners:
        await runner.setup()
    await web.TCPSite(runners[0], sandbox.host, sandbox.port).start()
    await web.TCPSite(runners[1], config.server.host, config.server.port).start()
    # The worker decides timeouts and windows by the demo's clock, whatever date that clock shows.
    worker_env = {**os.environ, CLOCK_ENV: clock_spec(clock)}
    worker = subprocess.Popen([sys.executable, "-m", "bot", *worker_args, "worker"], env=worker_env)
    base = f"http://{config.server.host}:{config.server.port}"
    print(f"\nwxshop demo is running.\n  chat preview:  {base}/sandbox/\n  health:        {base}/healthz", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        worker.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(15)
        if worker.poll() is None:
            worker.kill()
        for runner in reversed(runners):
            await runner.cleanup()
    return 0
