"""The one source of "now": business time is Asia/Shanghai, and tests move it by hand.

Every process of one demo or test must agree on "now" (a worker deciding whether an order timed out reads the
same time as the server that created it), so a process's clock can be handed down in one environment variable,
`WXSHOP_CLOCK`: empty for the wall clock, `frozen:<ISO datetime>` for a clock standing still there (a test's
`ManualClock`; a bare ISO datetime means the same), `offset:<seconds>` for the wall clock moved by that much
(a demo started at another date hands its running clock to its worker this way).
"""

from __future__ import annotations

import os
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


class ShiftedClock:
    """The wall clock moved by a fixed offset: runs like the wall clock, at another date."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(SHANGHAI) + self.offset


CLOCK_ENV = "WXSHOP_CLOCK"


class ClockSpecError(ValueError):
    pass


def clock_from_spec(spec: str) -> Clock:
    """The clock a `WXSHOP_CLOCK` value names (see the module docstring)."""
    spec = spec.strip()
    if not spec:
        return SystemClock()
    kind, _, value = spec.partition(":") if spec.startswith(("frozen:", "offset:")) else ("frozen", "", spec)
    try:
        if kind == "offset":
            return ShiftedClock(timedelta(seconds=float(value)))
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ClockSpecError(
            f"{CLOCK_ENV}={spec!r}: expected frozen:<ISO datetime with offset> or offset:<seconds>"
        ) from None
    if when.tzinfo is None:
        raise ClockSpecError(f"{CLOCK_ENV}={spec!r}: the datetime needs a UTC offset, e.g. +08:00")
    return ManualClock(when)


def clock_spec(clock: Clock) -> str:
    """The `WXSHOP_CLOCK` value that gives a child process this clock (a ManualClock as it stands now)."""
    if isinstance(clock, ShiftedClock):
        return f"offset:{clock.offset.total_seconds()}"
    if isinstance(clock, ManualClock):
        return f"frozen:{clock.now().isoformat()}"
    return ""


def process_clock() -> Clock:
    """This process's clock, as its parent handed it down (the wall clock when nothing was)."""
    return clock_from_spec(os.environ.get(CLOCK_ENV, ""))
