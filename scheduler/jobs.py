"""Job functions: plain async functions taking arq's `ctx`; blocking domain work goes to a thread.

`ctx["deps"]` is handed in by whoever assembles the worker (bot/worker.py); it carries the clock and, later,
the WeChat gateway. Jobs never read config or open connections themselves.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from store.clock import Clock
from store.heartbeat import record_heartbeat


@dataclass(frozen=True)
class JobDeps:
    clock: Clock
    worker_name: str


async def beat(ctx: dict[str, Any], source: str = "cron") -> str:
    """Record that a worker ran: the example job, and the proof of life /healthz reports."""
    deps: JobDeps = ctx["deps"]
    job_id = ctx.get("job_id", "")
    await asyncio.to_thread(record_heartbeat, job_id, f"{source}@{deps.worker_name}", deps.clock.now())
    return job_id


FUNCTIONS = [beat]
