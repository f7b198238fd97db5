"""Utterances the bot could not place, collected in memory on the reply path and drained in batches.

Noting one is a dict update under a lock (microseconds, no I/O); `serve` drains the collection into the
database every few seconds and at shutdown (`store.chat.nlu.record_unanswered`), so the fallback path stays as fast
as the keyword path and the operators still see every question nobody answered.
"""

from __future__ import annotations

import threading
from datetime import datetime

from store.chat.nlu import Sighting

MAX_PENDING = 10_000  # distinct utterances held between drains; past it new ones are counted as dropped


class UnansweredCollector:
    def __init__(self) -> None:
        self._pending: dict[str, Sighting] = {}
        self._lock = threading.Lock()
        # Held by whoever is storing a drained batch: a reader that flushes before reading the store (the inbox
        # page) waits for a batch another thread has taken but not yet written, instead of reading without it.
        self.flushing = threading.Lock()
        self.dropped = 0

    def note(self, openid: str, text: str, norm: str, outcome: str, now: datetime) -> None:
        key = norm or text
        if not key:
            return
        with self._lock:
            seen = self._pending.get(key)
            if seen is None:
                if len(self._pending) >= MAX_PENDING:
                    self.dropped += 1
                    return
                self._pending[key] = Sighting(key, text, outcome, 1, now, now, openid)
            else:
                self._pending[key] = Sighting(key, text, outcome, seen.count + 1, seen.first_seen, now, openid)

    def drain(self) -> list[Sighting]:
        """Everything noted since the last drain; the caller stores it (and puts it back with `restore` if it
        could not)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return list(pending.values())

    def restore(self, sightings: list[Sighting]) -> None:
        """Put back a batch that could not be stored (the database away), merged with what came since."""
        with self._lock:
            for s in sightings:
                later = self._pending.get(s.norm)
                if later is None:
                    if len(self._pending) < MAX_PENDING:
                        self._pending[s.norm] = s
                    continue
                self._pending[s.norm] = Sighting(
                    s.norm, later.text, later.outcome, s.count + later.count, s.first_seen, later.last_seen,
                    later.openid,
                )
