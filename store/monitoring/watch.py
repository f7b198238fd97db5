"""Figures under watch and their alerts: the last reading of each figure, and one alert per breach.

A check (store.monitoring.alerts) hands `observe` a `Reading`: the figure's value, its bound, the sample it stands
on and whether it is out of bounds. Out of bounds with no alert firing opens one (`open_key` = the figure, unique:
one firing alert per figure however many checks race) and tells operators through the outbox, keyed by the figure
and the window it started in, so a breach is announced once. While it lasts the alert only follows the value;
back in bounds it is cleared. A reading on too small a sample (`breached` None) judges nothing: the alert stays as
it was. The readings are what `/metrics` exports and the console draws; the alerts are the console's list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, database, write_transaction
from store.monitoring.ops_alerts import alert_operators

RAISED, KEPT, CLEARED, UNCHANGED = "raised", "kept", "cleared", "unchanged"


class FigureReading(BaseModel):
    """The last check of one figure."""

    figure = peewee.CharField(max_length=32, unique=True)
    value = peewee.FloatField(null=True)  # None: no data (nothing to divide by)
    threshold = peewee.FloatField()
    bound = peewee.CharField(max_length=8)  # "min": alert below the threshold, "max": above it, "band": beyond ±
    sample = peewee.IntegerField(default=0)
    breached = peewee.BooleanField(null=True)  # None: too small a sample to judge
    checked_at = ShanghaiDateTimeField()


class MetricAlert(BaseModel):
    """One breach of one figure, from the check that saw it to the check that saw the figure back in bounds."""

    figure = peewee.CharField(max_length=32)
    open_key = peewee.CharField(max_length=32, null=True, unique=True)  # the figure while firing
    window = peewee.CharField(max_length=32)  # where the breach was first seen: a day, a minute (no spaces)
    subject = peewee.CharField(max_length=64)  # what operators were told
    value = peewee.FloatField(null=True)  # the latest value while firing, the last out-of-bounds one after
    threshold = peewee.FloatField()
    raised_at = ShanghaiDateTimeField()
    last_seen_at = ShanghaiDateTimeField()
    cleared_at = ShanghaiDateTimeField(null=True)
    notified = peewee.IntegerField(default=0)  # operators told

    class Meta:
        indexes = ((("raised_at",), False),)


@dataclass(frozen=True)
class Reading:
    figure: str
    value: float | None
    threshold: float
    bound: str
    sample: int
    breached: bool | None
    window: str  # the breach window this reading belongs to ("2026-11-25", "2026-11-25T10:05")
    subject: str = ""  # the operators' line when it opens an alert (≤ 20 characters reach a template)


def observe(reading: Reading, now: datetime, operators: tuple[str, ...]) -> str:
    """Record the reading; raise, keep or clear the figure's alert. Returns RAISED, KEPT, CLEARED or UNCHANGED."""
    with write_transaction():
        _remember(reading, now)
        if reading.breached is None:
            return UNCHANGED
        if not reading.breached:
            cleared = (
                MetricAlert.update(open_key=None, cleared_at=now, last_seen_at=now)
                .where(MetricAlert.open_key == reading.figure)
                .execute()
            )
            return CLEARED if cleared else UNCHANGED
        kept = (
            MetricAlert.update(value=reading.value, last_seen_at=now)
            .where(MetricAlert.open_key == reading.figure)
            .execute()
        )
        if kept:
            return KEPT
        try:
            with database.atomic():  # a savepoint: a check racing this one opened it first
                alert = MetricAlert.create(
                    figure=reading.figure, open_key=reading.figure, window=reading.window,
                    subject=reading.subject[:64], value=reading.value, threshold=reading.threshold,
                    raised_at=now, last_seen_at=now,
                )  # fmt: skip
        except peewee.IntegrityError:
            return KEPT
        told = alert_operators(operators, reading.subject, reading.window, f"metrics:{reading.figure}:{reading.window}",
                               now)  # fmt: skip
        MetricAlert.update(notified=told).where(MetricAlert.id == alert.id).execute()
        return RAISED


def _remember(reading: Reading, now: datetime) -> None:
    values = {
        "value": reading.value, "threshold": reading.threshold, "bound": reading.bound, "sample": reading.sample,
        "breached": reading.breached, "checked_at": now,
    }  # fmt: skip
    if not FigureReading.update(**values).where(FigureReading.figure == reading.figure).execute():
        try:
            with database.atomic():
                FigureReading.create(figure=reading.figure, **values)
        except peewee.IntegrityError:  # created meanwhile by a racing check: update that one
            FigureReading.update(**values).where(FigureReading.figure == reading.figure).execute()


# ---- reading ------------------------------------------------------------------------------------------------------


def readings() -> list[FigureReading]:
    return list(FigureReading.select().order_by(FigureReading.figure))


def firing_figures() -> set[str]:
    return {row.figure for row in MetricAlert.select(MetricAlert.figure).where(MetricAlert.open_key.is_null(False))}


def recent_alerts(limit: int = 20) -> list[MetricAlert]:
    """Firing alerts first (newest first), then the latest cleared ones."""
    firing = MetricAlert.open_key.is_null(False)
    query = MetricAlert.select().order_by(peewee.Case(None, [(firing, 0)], 1), MetricAlert.raised_at.desc(),
                                          MetricAlert.id.desc())  # fmt: skip
    return list(query.limit(limit))


def alert_dict(alert: MetricAlert) -> dict[str, Any]:
    return {
        "figure": alert.figure, "firing": alert.open_key is not None, "subject": alert.subject,
        "window": alert.window, "value": alert.value, "threshold": alert.threshold,
        "raised_at": alert.raised_at.isoformat(), "last_seen_at": alert.last_seen_at.isoformat(),
        "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None, "notified": alert.notified,
    }  # fmt: skip
