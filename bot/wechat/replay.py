"""Replay protection for signed callbacks: a query string is good near its timestamp, once, with one body.

WeChat's `signature` covers the token, the timestamp and the nonce, not the body (in plaintext mode nothing
covers the body). Unbounded, one query string copied from a proxy log would sign any body from any FromUserName,
forever. So a request is refused unless:
- its `timestamp` lies within `[wechat] timestamp_window_s` of our clock, either side;
- its (timestamp, nonce, signature) was not seen before with another body. The triple is remembered in Redis,
  with a digest of its body, until the timestamp goes stale; the memory is checked and written in the same
  script as the dedup claim (`bot.wechat.dedup`), so it costs no round trip of its own.

While Redis is away each process remembers the triples it saw itself (`LocalNonces`): a replay reaching the same
process is still refused; one reaching another process in that time is not (only the shared memory knows both).

A triple seen before with the same bytes is a retry: it gets the stored reply, and once the reply cache has
forgotten the message it is refused (WeChat's own retries come within 15 s, the cache keeps replies 120 s).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import NamedTuple

from store.core.keys import Keys

MAX_TIMESTAMP_DIGITS = 12


class Replayed(Exception):
    """A signed query used again with another body, or after its reply was forgotten; the message says which."""


class Nonce(NamedTuple):
    """One signed request's memory: its Redis key, its body's digest, and how long it must be kept."""

    key: str
    digest: bytes
    ttl_s: int


def fresh_timestamp(timestamp: str, now: float, window_s: int) -> int | None:
    """The timestamp as an integer when it is within `window_s` of `now` (epoch seconds), else None."""
    if not (timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
        return None
    value = int(timestamp)
    return value if abs(value - now) <= window_s else None


def nonce_for(query: Mapping[str, str], timestamp: int, body: bytes, prefix: str, now: float, window_s: int) -> Nonce:
    """The memory of this request, kept until its timestamp leaves the window (at least one second).
    Keyed by the verified (timestamp, nonce, signature) as they came (only WeChat, or a replay of it, gets this
    far); never by `msg_signature`, which a plaintext request may carry unchecked. The body's digest covers the
    ciphertext of an encrypted one."""
    key = Keys(prefix).nonce(timestamp, query.get("nonce", ""), query.get("signature", ""))
    ttl_s = max(1, int(timestamp + window_s - now) + 1)
    return Nonce(key, hashlib.blake2b(body, digest_size=16).digest(), ttl_s)


class LocalNonces:
    """This process's memory of signed requests, consulted only while Redis is away. Kept by the monotonic clock
    for each triple's time to live, bounded: past `limit` the expired go first, then the oldest half."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._seen: dict[str, tuple[bytes, float]] = {}

    def check(self, nonce: Nonce, now: float | None = None) -> None:
        """Remember `nonce`; raise `Replayed` when its triple came before, still in its window, with another body."""
        now = time.monotonic() if now is None else now
        seen = self._seen.get(nonce.key)
        if seen is not None and seen[1] > now:
            if seen[0] != nonce.digest:
                raise Replayed("signed query reused with another body (Redis away: this process's memory)")
            return
        if len(self._seen) >= self.limit:
            self._prune(now)
        self._seen[nonce.key] = (nonce.digest, now + nonce.ttl_s)

    def _prune(self, now: float) -> None:
        self._seen = {k: v for k, v in self._seen.items() if v[1] > now}
        if len(self._seen) >= self.limit:
            keep = list(self._seen.items())[len(self._seen) // 2 :]
            self._seen = dict(keep)
