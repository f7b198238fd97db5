"""Outbound callbacks with a retry schedule driven by the injected clock (pay notices, tracking pushes).

Both WeChat Pay and Kuaidi100 POST to a merchant URL, judge the reply, and retry on a fixed schedule until the
merchant acknowledges or the schedule runs out. The schedule is data (absolute due times computed when the
delivery is queued) and nothing sleeps: `deliver_due()` sends what the clock says is due, so tests move a
`ManualClock` and call it; the demo runs `run()` in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp

from store.core.clock import Clock

log = logging.getLogger("wxshop.sandbox.courier")

Acknowledged = Callable[[int, str], bool]
"""Judges a merchant reply from its HTTP status and body text: True stops the retries."""

_Sent = tuple[datetime, bool, int | None, str, str | None]
"""(sent at, acknowledged, HTTP status, reply body, transport error) of one POST."""


@dataclass(frozen=True)
class Attempt:
    """One POST to the merchant and what came back (reply is the body, or the error when none came)."""

    delivery_id: int
    number: int
    at: datetime
    ok: bool
    http_status: int | None
    reply: str
    error: str | None = None
    duplicate: bool = False


@dataclass
class Delivery:
    """One payload to get acknowledged; `due[i]` is when attempt i is sent (attempt 0 is the first POST)."""

    id: int
    key: str
    url: str
    payload: bytes
    content_type: str
    created_at: datetime
    due: list[datetime]
    attempts: list[Attempt] = field(default_factory=list)
    next_index: int = 0
    acknowledged: bool = False
    in_flight: bool = field(default=False, repr=False)

    @property
    def next_due(self) -> datetime | None:
        """When the next scheduled attempt goes out; None once acknowledged or given up."""
        if self.acknowledged or self.next_index >= len(self.due):
            return None
        return self.due[self.next_index]

    @property
    def given_up(self) -> bool:
        return not self.acknowledged and self.next_index >= len(self.due)

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8")


def compress(schedule: Sequence[timedelta], factor: float) -> tuple[timedelta, ...]:
    """The same schedule `factor` times faster: the demo uses it so a day of retries fits in minutes."""
    if factor <= 0:
        raise ValueError("factor must be > 0")
    return tuple(step / factor for step in schedule)


class Courier:
    """Queues deliveries, sends the due ones, records every attempt; one instance per emulator."""

    def __init__(self, clock: Clock, schedule: Sequence[timedelta], timeout: float, acknowledged: Acknowledged) -> None:
        self._clock = clock
        self._schedule = tuple(schedule)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._acknowledged = acknowledged
        self._ids = itertools.count(1)
        self._wake = asyncio.Event()
        self.session: aiohttp.ClientSession | None = None
        self.deliveries: list[Delivery] = []
        self.extra_attempts: list[Attempt] = []

    def enqueue(self, key: str, url: str, payload: bytes, content_type: str) -> Delivery:
        """Queue `payload` for `url`; its first attempt is due now, the retries per the schedule."""
        now = self._clock.now()
        due = list(itertools.accumulate(self._schedule, initial=now))
        delivery = Delivery(next(self._ids), key, url, payload, content_type, now, due)
        self.deliveries.append(delivery)
        self._wake.set()
        return delivery

    def for_key(self, key: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.key == key]

    @property
    def attempts(self) -> list[Attempt]:
        """Every attempt of every delivery, in the order they were made."""
        made = [a for d in self.deliveries for a in d.attempts] + self.extra_attempts
        return sorted(made, key=lambda a: (a.at, a.delivery_id, a.number))

    async def deliver_due(self) -> list[Attempt]:
        """Send, concurrently, the next attempt of every delivery that is due by the clock (one each per call)."""
        now = self._clock.now()
        due = [d for d in self.deliveries if not d.in_flight and d.next_due is not None and d.next_due <= now]
        return list(await asyncio.gather(*(self.deliver_next(d) for d in due)))

    async def deliver_next(self, delivery: Delivery) -> Attempt:
        """Send the next scheduled attempt now, whatever its due time (the manual "retry now" button)."""
        return (await self.deliver_duplicates(delivery, copies=1))[0]

    async def deliver_duplicates(self, delivery: Delivery, copies: int = 2) -> list[Attempt]:
        """Send the next attempt `copies` times at once, as when several WeChat servers notify within seconds."""
        if delivery.next_index >= len(delivery.due) or delivery.acknowledged:
            raise ValueError(f"delivery {delivery.id} has no attempt left (acknowledged or given up)")
        number = delivery.next_index
        delivery.next_index += 1
        delivery.in_flight = True
        try:
            sent = await asyncio.gather(*(self._post(delivery.url, delivery.payload, delivery.content_type)
                                          for _ in range(copies)))
        finally:
            delivery.in_flight = False
        attempts = [Attempt(delivery.id, number, at, ok, status, reply, error, duplicate=copies > 1)
                    for at, ok, status, reply, error in sent]
        delivery.attempts.extend(attempts)
        delivery.acknowledged = delivery.acknowledged or any(a.ok for a in attempts)
        return attempts

    async def send_once(self, url: str, payload: bytes, content_type: str) -> Attempt:
        """POST an arbitrary (e.g. tampered) payload once, outside any schedule; recorded in `extra_attempts`."""
        at, ok, status, reply, error = await self._post(url, payload, content_type)
        attempt = Attempt(0, 0, at, ok, status, reply, error)
        self.extra_attempts.append(attempt)
        return attempt

    async def _post(self, url: str, payload: bytes, content_type: str) -> _Sent:
        if self.session is None:
            raise RuntimeError("the emulator is not started: run its app (cleanup_ctx opens the HTTP session)")
        at = self._clock.now()
        try:
            async with self.session.post(url, data=payload, headers={"Content-Type": content_type},
                                         timeout=self._timeout) as response:
                body = await response.text(errors="replace")
                return at, self._acknowledged(response.status, body), response.status, body, None
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
            return at, False, None, "", error

    @contextlib.asynccontextmanager
    async def serving(
        self, poll_interval: float, background: bool, before: Callable[[], object] | None = None
    ) -> AsyncIterator[None]:
        """An emulator app's lifespan: the one HTTP session for its callbacks and, when `background`, `run` as a
        task (the demo; tests call `deliver_due` themselves)."""
        async with aiohttp.ClientSession() as session:
            self.session = session
            task = asyncio.create_task(self.run(poll_interval, before)) if background else None
            try:
                yield
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                self.session = None

    async def run(self, poll_interval: float, before: Callable[[], object] | None = None) -> None:
        """Deliver due attempts forever (the demo's background task); `before` runs first on every round."""
        while True:
            self._wake.clear()
            try:
                if before is not None:
                    result = before()
                    if asyncio.iscoroutine(result):
                        await result
                await self.deliver_due()
            except Exception:  # a broken round must not stop the background deliveries; it is logged
                log.exception("sandbox delivery round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll_interval)
