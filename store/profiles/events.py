"""Behaviour events (product card shown, product page opened, search, favourite): noted in memory on the reply
path, stored in batches by the process's beat, the way the unanswered inbox is (dialogs/unanswered.py), so the
reply path does no I/O for them."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from store.core.db import write_transaction
from store.profiles.models import BehaviourEvent

KINDS = ("card", "page", "search", "favourite")
MAX_PENDING = 50_000  # events held between drains; past it new ones are counted as dropped
BATCH = 500


@dataclass(frozen=True)
class Event:
    openid: str
    kind: str
    ref: str
    at: datetime


class EventCollector:
    """A list append under a lock per event; `drain` hands the batch to `store_events`."""

    def __init__(self) -> None:
        self._pending: list[Event] = []
        self._lock = threading.Lock()
        self.flushing = threading.Lock()  # one flush at a time: a flush returns once everything before it is stored
        self.dropped = 0

    def note(self, openid: str, kind: str, ref: str, at: datetime) -> None:
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self.dropped += 1
                return
            self._pending.append(Event(openid, kind, ref[:128], at))

    def drain(self) -> list[Event]:
        with self._lock:
            pending, self._pending = self._pending, []
        return pending

    def restore(self, events: list[Event]) -> None:
        """Put back a batch that could not be stored (the database away), ahead of what came since."""
        with self._lock:
            room = max(MAX_PENDING - len(self._pending), 0)
            self.dropped += max(len(events) - room, 0)
            self._pending = events[:room] + self._pending


def store_events(events: list[Event]) -> int:
    rows = [{"openid": e.openid, "kind": e.kind, "ref": e.ref, "at": e.at} for e in events]
    with write_transaction():
        for start in range(0, len(rows), BATCH):
            BehaviourEvent.insert_many(rows[start : start + BATCH]).execute()
    return len(rows)


def flush_events(collector: EventCollector) -> int:
    """Store what the collector holds; on a database error put it back and re-raise (the beat logs it)."""
    with collector.flushing:
        batch = collector.drain()
        if not batch:
            return 0
        try:
            return store_events(batch)
        except Exception:
            collector.restore(batch)
            raise


def purge_events(before: datetime) -> int:
    with write_transaction():
        return int(BehaviourEvent.delete().where(BehaviourEvent.at < before).execute())
