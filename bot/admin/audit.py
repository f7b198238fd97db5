"""The audit log's middleware and route: every admin API call that is not a GET (or HEAD) is recorded once it is
answered, whatever the answer (a refused one too), with who made it; `GET /admin/api/audit` reads the log.

The summary names the JSON body's fields with short values; fields that could hold a secret (password, token,
secret, key) are written as ***, and a body that is not JSON is described by its type and size only.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web

from bot.admin.api import PREFIX, Handler, dumps, principal
from bot.admin.params import BadParameter, page_size, parse_int
from bot.admin.permissions import route_of
from bot.web.runtime import RESOURCES, run_blocking
from store.core.clock import SHANGHAI
from store.logistics.shipments import CARRIERS
from store.operators.audit import AuditFilter, entries, record

log = logging.getLogger("wxshop.admin.audit")
SECRET_FIELD = re.compile(r"pass|token|secret|key", re.IGNORECASE)
VALUE_CHARS = 40


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_get("/api/audit", audit_view)


@web.middleware
async def audit_changes(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(PREFIX) or request.method in ("GET", "HEAD", "OPTIONS"):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        await _record(request, exc.status)
        raise
    await _record(request, response.status)
    return response


async def _record(request: web.Request, status: int) -> None:
    who = principal(request)
    if who is None:  # not signed in: nobody to name, and nothing was changed
        return
    target = ", ".join(f"{k}={v}" for k, v in request.match_info.items())
    summary = await _summary(request)
    at = request.config_dict[RESOURCES].clock.now()
    try:
        await run_blocking(
            request.config_dict, record, at, who.username, who.role, request.method, route_of(request), request.path,
            target, summary, status,
        )  # fmt: skip
    except Exception:  # the change is made; a lost audit line is logged, not turned into an error
        log.exception("audit entry not recorded", extra={"path": request.path, "user": who.username})


FILE_KINDS = {"application/toml": "TOML 文件", "text/csv": "CSV 文件", "text/plain": "文本"}  # an upload, by type


async def _summary(request: web.Request) -> str:
    if not request.can_read_body and not request.body_exists:
        return ""
    try:
        raw = await request.read()
    except Exception:
        return ""
    if not raw:
        return ""
    if request.content_type == "application/json":
        try:
            body = json.loads(raw)
        except ValueError:
            return f"非 JSON 内容 {len(raw)} 字节"
        return _describe(body)
    if request.content_type == "application/x-www-form-urlencoded":
        return "表单 " + ", ".join(
            f"{k}=***" if SECRET_FIELD.search(k) else f"{k}={_short(v)}" for k, v in (await request.post()).items()
        )
    return f"{FILE_KINDS.get(request.content_type, '文件')} {len(raw)} 字节"


def _describe(body: Any) -> str:
    if not isinstance(body, dict):
        return _short(dumps(body))
    return ", ".join(
        f"{k}=***" if SECRET_FIELD.search(str(k)) else f"{k}={_short(CARRIERS.get(v, v) if k == 'carrier' else v)}"
        for k, v in body.items()
    )


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else dumps(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def _day(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.combine(datetime.strptime(raw, "%Y-%m-%d").date(), time(), SHANGHAI)
    except ValueError:
        raise BadParameter(f"{name} must be a date like 2026-11-24") from None


async def audit_view(request: web.Request) -> web.Response:
    """The log newest first: `user`, `method`, `route` (a part of it), `status`, `since`/`until` (days, Shanghai,
    `until` included), paged by `before_id` (`next_before_id`)."""
    q = request.query
    until = _day(q.get("until"), "until")
    wanted = AuditFilter(
        username=q.get("user", "").strip(), method=q.get("method", "").strip(), route=q.get("route", "").strip(),
        status=parse_int(q.get("status"), "status", None, low=100, high=599), since=_day(q.get("since"), "since"),
        until=until + timedelta(days=1) if until else None, before_id=parse_int(q.get("before_id"), "before_id"),
        limit=page_size(q, "limit", 50, 200),
    )  # fmt: skip
    rows, next_before_id = await run_blocking(request.config_dict, entries, wanted)
    return web.json_response({"entries": rows, "next_before_id": next_before_id}, dumps=dumps)
