"""The one source of "now": business time is Asia/Shanghai, and tests move it by hand."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time, always timezone-aware in Asia/Shanghai."""

    def now(self) -> datetime:
        return datetime.now(SHANGHAI)


class ManualClock:
    """A clock that only moves when told to: tests and sandbox previews use it instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware datetime")
        self._now = start.astimezone(SHANGHAI)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(SHANGHAI)
