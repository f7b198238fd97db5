"""The audit log: every change made through the admin API (any method but GET), who made it with which role, the
route and the record it named, a short summary of what was sent (never a password), when (Asia/Shanghai) and the
status it was answered with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, write_transaction

SUMMARY_CHARS = 300


class AuditEntry(BaseModel):
    at = ShanghaiDateTimeField(index=True)
    username = peewee.CharField(max_length=64, index=True)  # "api-token" for a bearer-token client
    role = peewee.CharField(max_length=16)
    method = peewee.CharField(max_length=8)
    route = peewee.CharField(max_length=200)  # the route's pattern: /admin/api/orders/{order_no}/ship
    path = peewee.CharField(max_length=500)
    target = peewee.CharField(max_length=200, default="")  # the path's parameters: "order_no=WX123"
    summary = peewee.CharField(max_length=SUMMARY_CHARS, default="")
    status = peewee.IntegerField()


@dataclass(frozen=True)
class AuditFilter:
    username: str = ""
    method: str = ""
    route: str = ""  # a part of the route pattern
    status: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = 50


def record(
    at: datetime, username: str, role: str, method: str, route: str, path: str, target: str, summary: str, status: int
) -> None:
    with write_transaction():
        AuditEntry.create(
            at=at, username=username[:64], role=role[:16], method=method[:8], route=route[:200], path=path[:500],
            target=target[:200], summary=summary[:SUMMARY_CHARS], status=status,
        )  # fmt: skip


def entries(wanted: AuditFilter) -> tuple[list[dict[str, Any]], int | None]:
    """The matching entries newest first, and the `before_id` of the next page (None on the last)."""
    query = AuditEntry.select().order_by(AuditEntry.id.desc())
    if wanted.username:
        query = query.where(AuditEntry.username == wanted.username)
    if wanted.method:
        query = query.where(AuditEntry.method == wanted.method.upper())
    if wanted.route:
        query = query.where(AuditEntry.route.contains(wanted.route))
    if wanted.status is not None:
        query = query.where(AuditEntry.status == wanted.status)
    if wanted.since is not None:
        query = query.where(AuditEntry.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditEntry.at < wanted.until)
    if wanted.before_id is not None:
        query = query.where(AuditEntry.id < wanted.before_id)
    rows = list(query.limit(wanted.limit + 1))
    more = len(rows) > wanted.limit
    rows = rows[: wanted.limit]
    return [_as_dict(row) for row in rows], (rows[-1].id if more else None)


def _as_dict(row: AuditEntry) -> dict[str, Any]:
    return {
        "id": row.id, "at": row.at.isoformat(timespec="minutes"), "username": row.username, "role": row.role,
        "method": row.method, "route": row.route, "target": row.target, "summary": row.summary,
        "status": row.status,
    }  # fmt: skip
