"""Worker heartbeats: the cron table's proof of life, shown by /healthz so an operator sees a dead worker."""

from __future__ import annotations

from datetime import datetime

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField


class Heartbeat(BaseModel):
    job_id = peewee.CharField(max_length=128, index=True)
    source = peewee.CharField(max_length=64)
    at = ShanghaiDateTimeField()


def record_heartbeat(job_id: str, source: str, now: datetime) -> None:
    """One row per run: a job that ran twice shows up twice, which is what the queue tests look for."""
    Heartbeat.create(job_id=job_id, source=source, at=now)


def last_heartbeat() -> datetime | None:
    row = Heartbeat.select().order_by(Heartbeat.at.desc()).first()
    return row.at if row else None
