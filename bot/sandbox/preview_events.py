"""The chat preview's transcript and its live stream (Server-Sent Events).

Every entry a follower sees or makes in the preview (their messages, the passive replies, the customer-service
and template messages the emulated WeChat delivered) is kept per follower, numbered once across all followers,
and pushed to the open streams. Deliveries are recorded by the World from any thread (the sandbox's API
handlers, a test calling the World directly), so `add` is thread-safe and hops onto the loop to feed streams.
Numbering lets a stream resume: EventSource sends `Last-Event-ID` on reconnect, and a page that has just loaded
the history passes `after=` so nothing falls between the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

from aiohttp import web

from bot.sandbox.preview_entries import Entry, delivered_entry
from bot.sandbox.world import Delivered
from store.core.clock import Clock

log = logging.getLogger("wxshop.sandbox.preview")

KEEP_PER_FOLLOWER = 500
KEEPALIVE_S = 15.0


class ChatHub:
    """Per-follower transcripts plus the streams listening to them."""

    def __init__(self, clock: Clock, template_titles: Mapping[str, str] | None = None) -> None:
        self.clock = clock
        self.template_titles = dict(template_titles or {})
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._entries: dict[str, deque[Entry]] = {}
        self._streams: list[tuple[str | None, asyncio.Queue[Entry | None]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """The loop the streams live on (None once the app stops: later entries are kept, not pushed)."""
        with self._lock:
            self._loop = loop

    def add(self, openid: str, entry: Entry) -> Entry:
        """Number, stamp and keep `entry`, then push it to the streams watching `openid`."""
        with self._lock:
            stamped = {"id": next(self._ids), "openid": openid, "at": self.clock.now().isoformat(), **entry}
            self._entries.setdefault(openid, deque(maxlen=KEEP_PER_FOLLOWER)).append(stamped)
            if self._loop is not None:  # under the lock, so streams receive entries in id order
                for watched, queue in self._streams:
                    if watched is None or watched == openid:
                        with contextlib.suppress(RuntimeError):  # the loop closed under us: nobody is listening
                            self._loop.call_soon_threadsafe(queue.put_nowait, stamped)
        return stamped

    def on_delivery(self, openid: str, delivered: Delivered) -> None:
        """World listener: a customer-service or template message reached the follower."""
        self.add(openid, delivered_entry(delivered, self.template_titles))

    def history(self, openid: str, after: int = 0) -> list[Entry]:
        with self._lock:
            return [e for e in self._entries.get(openid, ()) if e["id"] > after]

    @contextlib.contextmanager
    def listen(self, openid: str | None) -> Iterator[asyncio.Queue[Entry | None]]:
        """A queue of new entries for `openid` (None: every follower); None in the queue means "closing"."""
        queue: asyncio.Queue[Entry | None] = asyncio.Queue()
        item = (openid, queue)
        with self._lock:
            self._streams.append(item)
        try:
            yield queue
        finally:
            with self._lock:
                self._streams.remove(item)

    def close_streams(self) -> None:
        """End every open stream (on shutdown, so a long-lived SSE response does not hold the server up)."""
        with self._lock:
            queues = [queue for _, queue in self._streams]
        for queue in queues:
            queue.put_nowait(None)


def _frame(entry: Entry) -> bytes:
    data = json.dumps(entry, ensure_ascii=False)
    return f"id: {entry['id']}\nevent: entry\ndata: {data}\n\n".encode()


async def stream_entries(request: web.Request, hub: ChatHub, openid: str | None, after: int) -> web.StreamResponse:
    """Serve `text/event-stream`: entries after `after`, then each new one, with a comment every 15 s."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    try:
        with hub.listen(openid) as queue:  # listen before reading the backlog, so nothing falls between
            seen = after
            backlog = hub.history(openid, after) if openid is not None and after else []
            await response.write(b"retry: 2000\n: connected\n\n")
            for entry in backlog:
                await response.write(_frame(entry))
                seen = max(seen, entry["id"])
            while True:
                try:
                    entry = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": ping\n\n")
                    continue
                if entry is None:
                    break
                if entry["id"] > seen:
                    await response.write(_frame(entry))
                    seen = entry["id"]
    except ConnectionResetError:
        log.debug("preview stream closed by the browser", extra={"openid": openid})
    return response


def parse_after(value: Any) -> int:
    """A Last-Event-ID / `after` value: a non-negative integer, anything else counts as 0."""
    try:
        return max(0, int(str(value)))
    except (TypeError, ValueError):
        return 0
