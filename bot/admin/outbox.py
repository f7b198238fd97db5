"""The outbox in the admin API (auth and errors from the admin sub-app, bot.admin.app): what was sent, what
waits, what was dropped and why, what is in doubt, and sending a failed, dropped or in-doubt notice again.

* `GET /admin/api/outbox?status=&kind=&openid=&page=&per_page=` — newest first: `{"items", "page", "per_page",
  "total"}`.
* `GET /admin/api/outbox/stats` — `{"by_status", "by_channel", "in_doubt", "template_quota": {"day", "used",
  "limit"}, "oldest_pending_age_s"}`; `used` is the dispatchers' own count in Redis (the one the quota is
  enforced on); `in_doubt` counts the notices waiting for an operator's decision (`?status=in_doubt` lists them).
* `GET /admin/api/outbox/{id}` — one notice with its fields.
* `POST /admin/api/outbox/{id}/retry` — a failed, dropped or in-doubt notice back in the queue, due now (409 for
  any other); logged with the operator's name, since an in-doubt one may reach the follower twice (see
  `store.outbox.notices.retry_notice`).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.admin.params import page_size, parse_int
from bot.admin.sessions import request_session
from bot.jobs.outbox_service import template_quota
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from scheduler.outbox_limits import shanghai_day
from store.outbox.notices import (
    DELIVERED,
    DROPPED,
    FAILED,
    IN_DOUBT,
    PENDING,
    SENDING,
    SENT,
    Notice,
    NotRetryable,
    channel_counts,
    list_notices,
    oldest_due,
    retry_notice,
    status_counts,
)

log = logging.getLogger("wxshop.admin")
STATUSES = (PENDING, SENDING, SENT, DELIVERED, FAILED, DROPPED, IN_DOUBT)
MAX_PER_PAGE = 200


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_get("/api/outbox", list_view)
    admin.router.add_get("/api/outbox/stats", stats_view)
    admin.router.add_get("/api/outbox/{id}", detail_view)
    admin.router.add_post("/api/outbox/{id}/retry", retry_view)


def notice_dict(notice: Notice, with_fields: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": notice.id, "openid": notice.openid, "kind": notice.kind, "priority": notice.priority,
        "status": notice.status, "channel": notice.channel, "reason": notice.reason, "attempts": notice.attempts,
        "created_at": notice.created_at, "due_at": notice.due_at, "sent_at": notice.sent_at,
        "delivery_status": notice.delivery_status, "dedup_key": notice.dedup_key,
    }  # fmt: skip
    if with_fields:
        row.update(fields=notice.values(), msgid=notice.msgid, finished_at=notice.finished_at)
    return row


async def _operator(request: web.Request) -> str:
    """Who asked: the console user, or the API token's holder."""
    if request.headers.get("Authorization"):
        return "api-token"
    session = await request_session(request)
    return f"console:{session.username}" if session is not None else "unknown"


def _notice_id(request: web.Request) -> int:
    value = parse_int(request.match_info["id"], "notice id", low=1)
    assert value is not None
    return value


async def list_view(request: web.Request) -> web.Response:
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        return error(400, f"unknown status {status!r}", known=list(STATUSES))
    page = page_size(request.query, "page", 1, 10**6)
    per_page = page_size(request.query, "per_page", 50, MAX_PER_PAGE)
    notices, total = await run_blocking(
        request.config_dict, list_notices, status, request.query.get("kind") or None,
        request.query.get("openid") or None, page, per_page,
    )  # fmt: skip
    body = {"items": [notice_dict(n) for n in notices], "page": page, "per_page": per_page, "total": total}
    return web.json_response(body, dumps=dumps)


async def stats_view(request: web.Request) -> web.Response:
    app = request.config_dict
    config, resources = app[CONFIG], app[RESOURCES]
    now = resources.clock.now()
    quota = template_quota(config, resources)
    by_status = await run_blocking(app, status_counts)
    by_channel = await run_blocking(app, channel_counts)
    due = await run_blocking(app, oldest_due, now)
    body = {
        "by_status": {s: by_status.get(s, 0) for s in STATUSES},
        "by_channel": by_channel,
        "in_doubt": by_status.get(IN_DOUBT, 0),
        "template_quota": {"day": shanghai_day(now), "used": await quota.used(now), "limit": quota.daily},
        "oldest_pending_age_s": None if due is None else max(0, int((now - due).total_seconds())),
    }
    return web.json_response(body, dumps=dumps)


async def detail_view(request: web.Request) -> web.Response:
    notice_id = _notice_id(request)
    notice = await run_blocking(request.config_dict, Notice.get_or_none, Notice.id == notice_id)
    if notice is None:
        return error(404, "no such notice")
    return web.json_response(notice_dict(notice, with_fields=True), dumps=dumps)


async def retry_view(request: web.Request) -> web.Response:
    notice_id = _notice_id(request)
    app = request.config_dict
    operator = await _operator(request)
    try:
        was = await run_blocking(app, retry_notice, notice_id, app[RESOURCES].clock.now(), operator)
    except Notice.DoesNotExist:
        return error(404, "no such notice")
    except NotRetryable as exc:
        return error(409, str(exc))
    notice = await run_blocking(app, Notice.get_by_id, notice_id)
    log.info(
        "operator queued a notice again",
        extra={"notice_id": notice_id, "was": was, "operator": operator, "openid": notice.openid, "kind": notice.kind},
    )
    return web.json_response(notice_dict(notice, with_fields=True), dumps=dumps)
