"""The app's typed keys and the bridge from the event loop to the handler threads, shared by every `setup_*`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

from bot.process.config import Config
from bot.process.resources import Resources

T = TypeVar("T")
STALL_S = 0.002  # queued work this long without a job starting: the running threads are blocked


class HandlerPool:
    """A bounded pool of threads for synchronous domain code (peewee, WeRoBot handlers, wechatpy).

    Cheaper per call than `loop.run_in_executor` on a `ThreadPoolExecutor`, whose hand-off was a large share of
    what an inbound message cost besides its handler: a job is one tuple and one asyncio future (no concurrent
    Future chained to it); the most recently idle thread is woken first, so at light load the same few threads
    stay warm; a thread that finishes takes the next queued job without sleeping; and results come back in
    batches, one loop wake-up for all the results that finished while the loop was busy instead of one each.

    At most `running` threads (one per core by default) are handed work at once; more queue. Python threads
    share one interpreter lock, and sqlite3 or a Redis read releases it many times per job: with sixteen threads
    runnable, each release became a queue of hand-offs (hundreds of futex calls per chat message). A job that
    blocks (a slow WeChat call) must not hold the others up, though: when queued work has not moved for
    `STALL_S`, one more thread is lent, up to `size`.
    """

    def __init__(self, size: int, name: str = "wxshop", running: int | None = None) -> None:
        self.size = size
        self.name = name
        self.running = min(size, running or max(2, os.cpu_count() or 2))
        self._taken = 0  # jobs taken from the backlog so far: unchanged between two checks = stalled
        self._stall_check: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()
        self._backlog: deque[tuple[asyncio.Future, Callable[[], Any]]] = deque()
        self._idle: list[_Worker] = []  # a stack: the most recently idle thread is woken first
        self._workers: list[_Worker] = []
        self._done: deque[tuple[asyncio.Future, Any, BaseException | None]] = deque()
        self._wake_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Queue `fn(*args, **kwargs)`; the future resolves on the loop. Call from the loop's thread only."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed():
                raise RuntimeError("a handler pool serves one event loop")
            self._loop = loop
        if self._closed:
            raise RuntimeError("handler pool is shut down")
        future: asyncio.Future[T] = loop.create_future()
        job = (future, partial(fn, *args, **kwargs) if kwargs else partial(fn, *args))
        with self._lock:
            if len(self._workers) - len(self._idle) < self.running:
                if self._idle:
                    worker = self._idle.pop()
                    worker.job = job
                    worker.wake.release()
                    return future
                self._backlog.append(job)
                worker = self._spawn()
            else:
                self._backlog.append(job)
                worker = None
        if worker is not None:
            worker.thread.start()
        elif self._stall_check is None:
            self._stall_check = loop.call_later(STALL_S, self._unstall, self._taken)
        return future

    def _spawn(self) -> _Worker | None:
        """A new thread (started by the caller, outside the lock) if the pool may grow; under `_lock`."""
        if len(self._workers) >= self.size:
            return None
        worker = _Worker(self, f"{self.name}_{len(self._workers)}")
        self._workers.append(worker)
        return worker

    def _unstall(self, taken: int) -> None:
        """On the loop: queued work that has not moved since the last check gets one more thread."""
        self._stall_check = None
        worker = None
        with self._lock:
            if self._closed or not self._backlog:
                return
            if self._taken == taken:  # every running thread is blocked
                if self._idle:
                    idle = self._idle.pop()
                    idle.job = self._backlog.popleft()
                    self._taken += 1
                    idle.wake.release()
                else:
                    worker = self._spawn()
            taken = self._taken
        if worker is not None:
            worker.thread.start()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            self._stall_check = loop.call_later(STALL_S, self._unstall, taken)

    def _next(self, worker: _Worker) -> tuple[asyncio.Future, Callable[[], Any]] | None:
        """The next job for a thread that has finished one: from the backlog, else wait to be handed one."""
        while True:
            with self._lock:
                if self._backlog:
                    self._taken += 1
                    return self._backlog.popleft()
                if self._closed:
                    return None
                self._idle.append(worker)
            worker.wake.acquire()
            job, worker.job = worker.job, None
            if job is not None:
                return job

    def _finished(self, future: asyncio.Future, result: Any, error: BaseException | None) -> None:
        """On a worker thread: hand the result to the loop, waking it only if no wake-up is pending."""
        self._done.append((future, result, error))
        if self._wake_scheduled:
            return
        self._wake_scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._deliver)  # type: ignore[union-attr]
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            self._wake_scheduled = False

    def _deliver(self) -> None:
        """On the loop: resolve every finished job. The flag drops first, so a result appended meanwhile
        either is delivered here or schedules its own wake-up."""
        self._wake_scheduled = False
        done = self._done
        while done:
            future, result, error = done.popleft()
            if future.cancelled():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error if not isinstance(error, StopIteration) else RuntimeError(repr(error)))

    def shutdown(self, wait: bool = True, cancel_futures: bool = True) -> None:
        """Stop taking jobs; drop (cancel) queued ones when asked; let running ones finish; join the threads."""
        with self._lock:
            self._closed = True
            dropped = list(self._backlog) if cancel_futures else []
            if cancel_futures:
                self._backlog.clear()
            idle, self._idle = self._idle, []
            workers = list(self._workers)
        for worker in idle:
            worker.wake.release()
        for future, _ in dropped:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
                future.get_loop().call_soon_threadsafe(future.cancel)
        if wait:
            for worker in workers:
                worker.thread.join()


class _Worker:
    __slots__ = ("job", "pool", "thread", "wake")

    def __init__(self, pool: HandlerPool, name: str) -> None:
        self.pool = pool
        self.job: tuple[asyncio.Future, Callable[[], Any]] | None = None
        self.wake = threading.Lock()
        self.wake.acquire()
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)

    def run(self) -> None:
        pool = self.pool
        while (job := pool._next(self)) is not None:
            future, call = job
            try:
                result, error = call(), None
            except BaseException as exc:  # handed to the awaiting coroutine, as an executor would
                result, error = None, exc
            pool._finished(future, result, error)
            del job, future, call, result, error


CONFIG = web.AppKey("config", Config)
CLOCK = web.AppKey("clock", object)
RESOURCES = web.AppKey("resources", Resources)
EXECUTOR = web.AppKey("executor", HandlerPool)


async def run_blocking(app: Mapping[Any, Any], fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run synchronous domain code (peewee, WeRoBot handlers, wechatpy) on the bounded pool, off the loop."""
    return await app[EXECUTOR].submit(fn, *args, **kwargs)
