"""The admin JSON API's common ground: everything under /admin/api/ is guarded by `Authorization: Bearer
{admin.api_token}` or a console session (bot.admin.sessions: the cookie, plus the `X-CSRF-Token` header on
POST/PUT/PATCH/DELETE).

An empty token disables bearer access (a call without a session answers 403 saying so). Errors are JSON
`{"error": …}` with the status that says what went wrong; validation errors list every problem
(`{"error": …, "problems": [...]}`).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.admin.sessions import (
    COOKIE,
    CSRF_HEADER,
    UNSAFE_METHODS,
    csrf_ok,
    request_session,
    setup_sessions,
)
from bot.web.runtime import CONFIG

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PREFIX = "/admin/api/"


def setup(app: web.Application, admin: web.Application) -> None:
    setup_sessions(app)


def error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status, dumps=dumps)


def dumps(value: Any) -> str:
    """JSON for every admin response: Chinese as it is, dates and decimals as text."""
    return json.dumps(value, ensure_ascii=False, default=str)


@web.middleware
async def admin_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A bearer token, or a console session cookie (with its CSRF token on requests that change something)."""
    if not request.path.startswith(PREFIX):
        return await handler(request)
    token = request.config_dict[CONFIG].admin.api_token
    given = request.headers.get("Authorization", "")
    if not given:
        session = await request_session(request)
        if session is not None:
            if request.method in UNSAFE_METHODS and not csrf_ok(request, session):
                return error(403, f"missing or wrong {CSRF_HEADER} header for this console session")
            return await handler(request)
        if COOKIE in request.cookies:
            return error(401, "the console session has ended: sign in again at /admin/login")
    if not token:
        return error(403, "the admin API is disabled: set [admin] api_token (WXSHOP_ADMIN__API_TOKEN)"
                          " or sign in to the console at /admin/login")  # fmt: skip
    if not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].encode(), token.encode()):
        return error(401, "missing or wrong bearer token")
    return await handler(request)
