"""`wxshop serve`: one process, or a supervisor with N children sharing the port through SO_REUSEPORT."""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from aiohttp import web

from bot.chat.conversation import SEARCH_BUILT
from bot.process.config import Config
from bot.web.app import create_app
from bot.web.listen import check_free, listen
from bot.web.runtime import CONFIG

log = logging.getLogger("wxshop.serve")


def serve(config: Config, workers: int | None = None, argv_tail: list[str] | None = None) -> int:
    count = workers or config.server.workers
    if count <= 1:
        run_one(config, reuse_port=False)
        return 0
    check_free(config.server.host, config.server.port, reuse_port=True)  # or every child fails, restarted forever
    return supervise(config, count, argv_tail or [])


def run_one(config: Config, reuse_port: bool) -> None:
    """Serve until SIGTERM. The port is taken before the app opens anything (`bot.web.listen`)."""
    sock = listen(config.server.host, config.server.port, reuse_port=reuse_port)
    app = create_app(config)
    app.on_startup.append(_freeze_startup_objects)
    app.on_startup.append(_announce)
    web.run_app(
        app,
        sock=sock,
        shutdown_timeout=config.server.shutdown_timeout_s,
        print=None,
        access_log=None,
    )


async def _announce(app: web.Application) -> None:
    """Logged once start-up has opened everything: a database or Redis that is away stops us before this."""
    config = app[CONFIG]
    log.info("serving", extra={"url": f"http://{config.server.host}:{config.server.port}", "pid": os.getpid()})


async def _freeze_startup_objects(app: web.Application) -> None:
    """Once everything is open and loaded, move what start-up allocated (modules, the keyword automaton, the
    app) out of the garbage collector's generations: a full collection then scans only what requests
    allocate, instead of pausing every request in flight for tens of milliseconds to walk objects that live as
    long as the process."""
    gc.collect()
    gc.freeze()
    # The search index (and jieba's dictionary, a few hundred thousand objects) builds in the background after
    # start-up: freeze again once it is there, or every full collection walks it while requests wait.
    app[SEARCH_BUILT].add_done_callback(lambda _: (gc.collect(), gc.freeze()))


def supervise(config: Config, count: int, argv_tail: list[str]) -> int:
    """Start `count` children on the same port; forward SIGTERM/SIGINT; restart a child that dies alone."""
    metrics_dir = config.var_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    command = [sys.executable, "-m", "bot", *argv_tail, "serve", "--child"]
    children = [subprocess.Popen(command, env=env) for _ in range(count)]
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        for i, child in enumerate(children):
            if child.poll() is not None and not stopping:
                log.warning("child exited, restarting", extra={"pid": child.pid, "code": child.returncode})
                children[i] = subprocess.Popen(command, env=env)
        time.sleep(0.2)
    deadline = time.monotonic() + config.server.shutdown_timeout_s + 5
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    shutil.rmtree(Path(metrics_dir), ignore_errors=True)
    return 0
