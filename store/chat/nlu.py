"""What the understanding layer learns from: operators' examples, and the utterances nobody understood.

Every message that ended in the fallback or a low-confidence clarifying question is counted here (the
operators' unanswered-questions inbox); an operator teaches by adding an example sentence for an intent, which
bumps `NluVersion`, and every `serve` process retrains when it sees the version move (as keyword rules reload).
The inbound path never writes these tables itself: `serve` collects unanswered utterances in memory and flushes
them in one transaction every few seconds (`bot` does that), so a fallback costs no database round trip.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, write_transaction

TEXT_MAX = 200  # an utterance longer than this is kept cut: the inbox is for reading, not archiving


class NluExample(BaseModel):
    """An operator's example: `text` means `intent`."""

    text = peewee.CharField(max_length=TEXT_MAX)
    intent = peewee.CharField(max_length=64)
    created_at = ShanghaiDateTimeField()

    class Meta:
        indexes = ((("text", "intent"), True),)


class NluVersion(BaseModel):
    """One row, bumped with every change to the examples, so each process can tell its model is stale."""

    version = peewee.IntegerField(default=0)


class UnansweredUtterance(BaseModel):
    """One normalised utterance the bot could not place, with how often and when it came, and who sent it last."""

    norm = peewee.CharField(max_length=TEXT_MAX, unique=True)
    text = peewee.CharField(max_length=TEXT_MAX)
    outcome = peewee.CharField(max_length=16)  # "fallback" or "clarify"
    count = peewee.IntegerField(default=0)
    first_seen = ShanghaiDateTimeField()
    last_seen = ShanghaiDateTimeField(index=True)
    example_openid = peewee.CharField(max_length=64)
    taught_intent = peewee.CharField(max_length=64, null=True)  # set when an operator taught it


@dataclass(frozen=True)
class Sighting:
    """Unanswered utterances seen by one process since its last flush, aggregated by normalised text."""

    norm: str
    text: str
    outcome: str
    count: int
    first_seen: datetime
    last_seen: datetime
    openid: str


@dataclass(frozen=True)
class Unanswered:
    id: int
    norm: str
    text: str
    outcome: str
    count: int
    last_seen: datetime
    example_openid: str
    taught_intent: str | None

    @classmethod
    def of(cls, row: UnansweredUtterance) -> Unanswered:
        return cls(row.id, row.norm, row.text, row.outcome, row.count, row.last_seen, row.example_openid,
                   row.taught_intent)  # fmt: skip


@dataclass(frozen=True)
class TaughtExample:
    id: int
    text: str
    intent: str
    created_at: datetime

    @classmethod
    def of(cls, row: NluExample) -> TaughtExample:
        return cls(row.id, row.text, row.intent, row.created_at)


def record_unanswered(sightings: Iterable[Sighting]) -> int:
    """Add a batch of sightings to the inbox in one transaction; the number of utterances touched."""
    rows = list(sightings)
    if not rows:
        return 0
    with write_transaction():
        for s in rows:
            UnansweredUtterance.insert(
                norm=s.norm[:TEXT_MAX], text=s.text[:TEXT_MAX], outcome=s.outcome, count=s.count,
                first_seen=s.first_seen, last_seen=s.last_seen, example_openid=s.openid,
            ).on_conflict(
                conflict_target=[UnansweredUtterance.norm],
                update={
                    UnansweredUtterance.count: UnansweredUtterance.count + s.count,
                    UnansweredUtterance.text: s.text[:TEXT_MAX],
                    UnansweredUtterance.outcome: s.outcome,
                    UnansweredUtterance.last_seen: s.last_seen,
                    UnansweredUtterance.example_openid: s.openid,
                },
            ).execute()
    return len(rows)


def list_unanswered(limit: int = 50, include_taught: bool = False) -> list[Unanswered]:
    """The inbox, most frequent first (then most recent)."""
    query = UnansweredUtterance.select()
    if not include_taught:
        query = query.where(UnansweredUtterance.taught_intent.is_null())
    query = query.order_by(UnansweredUtterance.count.desc(), UnansweredUtterance.last_seen.desc()).limit(limit)
    return [Unanswered.of(u) for u in query]


def unanswered_page(limit: int, before_id: int | None = None, include_taught: bool = False) -> list[Unanswered]:
    """The inbox newest first (by when an utterance was first seen), paged by id: stable under new arrivals,
    which the most-frequent order is not."""
    query = UnansweredUtterance.select()
    if not include_taught:
        query = query.where(UnansweredUtterance.taught_intent.is_null())
    if before_id is not None:
        query = query.where(UnansweredUtterance.id < before_id)
    return [Unanswered.of(u) for u in query.order_by(UnansweredUtterance.id.desc()).limit(limit)]


def dismiss_unanswered(utterance_id: int) -> bool:
    """Drop one utterance from the inbox (it comes back, counted afresh, if shoppers keep asking it)."""
    with write_transaction():
        return bool(UnansweredUtterance.delete().where(UnansweredUtterance.id == utterance_id).execute())


def add_example(text: str, intent: str, norm: str, now: datetime) -> tuple[TaughtExample, bool]:
    """Teach `text` → `intent` (and mark the same utterance in the inbox as taught); the example, and False
    when it was known already."""
    text = text.strip()[:TEXT_MAX]
    with write_transaction():
        inserted = NluExample.insert(text=text, intent=intent, created_at=now).on_conflict_ignore()
        created = inserted.as_rowcount().execute()  # a row count: SQLite's lastrowid outlives an ignored insert
        row = NluExample.get((NluExample.text == text) & (NluExample.intent == intent))
        if created:
            UnansweredUtterance.update(taught_intent=intent).where(
                UnansweredUtterance.norm == norm[:TEXT_MAX]
            ).execute()
            _bump()
    return TaughtExample.of(row), bool(created)


def remove_example(text: str, intent: str) -> bool:
    return _remove((NluExample.text == text) & (NluExample.intent == intent)) is not None


def remove_example_by_id(example_id: int) -> TaughtExample | None:
    """Forget one example by its id; the example forgotten, None when there was none."""
    return _remove(NluExample.id == example_id)


def _remove(where: peewee.Expression) -> TaughtExample | None:
    with write_transaction():
        row = NluExample.get_or_none(where)
        if row is None or not NluExample.delete().where(NluExample.id == row.id).execute():
            return None
        _bump()
    return TaughtExample.of(row)


def taught_examples(intent: str | None = None) -> list[TaughtExample]:
    """The operators' taught examples, oldest first; only `intent`'s when given."""
    query = NluExample.select().order_by(NluExample.id)
    if intent is not None:
        query = query.where(NluExample.intent == intent)
    return [TaughtExample.of(e) for e in query]


def taught_counts() -> dict[str, int]:
    """How many examples operators taught, by intent."""
    query = NluExample.select(NluExample.intent, peewee.fn.COUNT(NluExample.id).alias("n")).group_by(NluExample.intent)
    return {row.intent: row.n for row in query}


def examples() -> list[tuple[str, str]]:
    """Every operator example as (intent, text), oldest first."""
    return [(e.intent, e.text) for e in NluExample.select().order_by(NluExample.id)]


def examples_version() -> int:
    row = NluVersion.select(NluVersion.version).first()
    return row.version if row else 0


def _bump() -> None:
    if not NluVersion.update(version=NluVersion.version + 1).execute():
        NluVersion.create(version=1)
