"""Scripted trouble for the emulators: the next N calls of an endpoint fail, and answers can be slowed down.

Real WeChat Pay and Kuaidi100 fail transiently (SYSTEMERROR, 500 服务器错误) and are sometimes slow; the
product's retry and timeout paths are only exercised if the sandbox can do the same on demand.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One injected failure: a business error code the emulator answers with, or a bare HTTP status."""

    code: str
    message: str
    http_status: int | None = None


class FaultPlan:
    """Per-endpoint queues of failures to serve next, plus a latency applied before every answer."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[Fault]] = {}
        self._latency: dict[str, float] = {}

    def fail_next(
        self, endpoint: str, times: int = 1, *, code: str, message: str, http_status: int | None = None
    ) -> None:
        """Make the next `times` calls of `endpoint` fail with `code` (or with a bare `http_status`)."""
        if times < 1:
            raise ValueError("times must be >= 1")
        queue = self._queued.setdefault(endpoint, deque())
        queue.extend([Fault(code, message, http_status)] * times)

    def take(self, endpoint: str) -> Fault | None:
        """The failure to serve for this call, if one is queued (consumes it)."""
        queue = self._queued.get(endpoint)
        return queue.popleft() if queue else None

    def pending(self, endpoint: str) -> int:
        return len(self._queued.get(endpoint, ()))

    def set_latency(self, seconds: float, endpoint: str = "*") -> None:
        """Delay answers of `endpoint` (or of every endpoint with "*") by `seconds` of real time."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        self._latency[endpoint] = seconds

    async def delay(self, endpoint: str) -> None:
        seconds = self._latency.get(endpoint, self._latency.get("*", 0.0))
        if seconds:
            await asyncio.sleep(seconds)

    def clear(self) -> None:
        self._queued.clear()
        self._latency.clear()
