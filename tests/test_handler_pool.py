"""The handler thread pool: results and errors come back to the loop, work runs off the loop on at most `size`
threads, and shutting down cancels what never started."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.web.runtime import HandlerPool


async def test_results_and_errors_come_back_and_work_runs_off_the_loop() -> None:
    pool = HandlerPool(4)
    loop_thread = threading.get_ident()
    try:

        def square(n: int, *, plus: int = 0) -> tuple[int, int]:
            return n * n + plus, threading.get_ident()

        results = await asyncio.gather(*(pool.submit(square, n, plus=1) for n in range(500)))
        assert [value for value, _ in results] == [n * n + 1 for n in range(500)]
        threads = {thread for _, thread in results}
        assert loop_thread not in threads and 1 <= len(threads) <= 4

        def broken() -> None:
            raise ValueError("bug")

        with pytest.raises(ValueError, match="bug"):
            await pool.submit(broken)
        assert (await pool.submit(square, 3))[0] == 9, "a failed job leaves its thread working"
    finally:
        pool.shutdown()


async def test_blocked_threads_do_not_stop_the_others_up_to_the_size() -> None:
    pool = HandlerPool(3, running=3)
    gate = threading.Event()
    try:
        blocked = [pool.submit(gate.wait, 10) for _ in range(2)]
        assert await pool.submit(lambda: "third thread") == "third thread"
        queued = pool.submit(lambda: "after the gate")
        await asyncio.sleep(0)
        assert not queued.done()  # all three threads busy: it waits its turn (no fourth thread)
        gate.set()
        assert await asyncio.gather(*blocked) == [True, True]
        assert await queued == "after the gate"
    finally:
        gate.set()
        pool.shutdown()


async def test_work_queues_behind_the_running_threads_until_they_block() -> None:
    """One thread runs at a time; four jobs that can only finish together get four threads (each lent when the
    queue stopped moving), and a fifth job waits for one of them."""
    pool = HandlerPool(4, running=1)
    meet = threading.Barrier(4, timeout=5)
    try:
        together = [pool.submit(meet.wait) for _ in range(4)]
        fifth = pool.submit(lambda: "fifth")
        assert sorted(await asyncio.gather(*together)) == [0, 1, 2, 3]
        assert await fifth == "fifth"
        assert len(pool._workers) == 4
    finally:
        pool.shutdown()


async def test_shutdown_cancels_queued_jobs_and_refuses_new_ones() -> None:
    pool = HandlerPool(1)
    gate = threading.Event()
    running = pool.submit(gate.wait, 10)
    queued = pool.submit(lambda: "never")
    pool.shutdown(wait=False, cancel_futures=True)
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
    gate.set()
    assert await running is True, "a job already running finishes"
    await asyncio.sleep(0)
    assert queued.cancelled()
    pool.shutdown(wait=True)


async def test_a_caller_that_gives_up_does_not_break_the_pool() -> None:
    pool = HandlerPool(2)
    gate = threading.Event()
    try:
        abandoned = pool.submit(gate.wait, 10)
        abandoned.cancel()
        gate.set()
        assert await pool.submit(lambda: 42) == 42
    finally:
        pool.shutdown()
