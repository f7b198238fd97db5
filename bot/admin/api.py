"""The admin JSON API's common ground: everything under /admin/api/ is guarded by `Authorization: Bearer
{admin.api_token}` or a console session (bot.admin.sessions: the cookie, plus the `X-CSRF-Token` header on
POST/PUT/PATCH/DELETE).

An empty token disables bearer access (a call without a session answers 403 saying so). Each call is made by a
`Principal` (the console user, or the token with `[admin] api_token_role`) whose role must reach the route's in
bot.admin.permissions; a user whose password was reset may only change it. Errors are JSON
`{"error": …, "message": …}` with the status that says what went wrong (`message` is the Chinese the console
shows, bot.admin.messages); validation errors list every problem (`problems`, and `problems_zh`).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.admin.messages import chinese, chinese_problem
from bot.admin.permissions import needed_role, route_of
from bot.admin.sessions import (
    COOKIE,
    CSRF_HEADER,
    SESSIONS,
    UNSAFE_METHODS,
    csrf_ok,
    request_session,
    setup_sessions,
)
from bot.web.runtime import CONFIG, run_blocking
from store.operators.roles import ADMIN, allows
from store.operators.users import user_or_none

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PREFIX = "/admin/api/"
TOKEN_USER = "api-token"  # who the audit log names for a bearer-token call
PASSWORD_ROUTE = "/admin/api/password"
SESSION_ROUTE = "/admin/api/session"


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    must_change_password: bool = False


PRINCIPAL = web.RequestKey("admin_principal", Principal)  # who is calling


def setup(app: web.Application, admin: web.Application) -> None:
    setup_sessions(app)


def error(status: int, message: str, **extra: Any) -> web.Response:
    """An error body: the English detail, and the Chinese the console shows (for problems too)."""
    body: dict[str, Any] = {"error": message, "message": chinese(status, message), **extra}
    if isinstance(extra.get("problems"), list):
        body["problems_zh"] = [chinese_problem(p) for p in extra["problems"]]
    return web.json_response(body, status=status, dumps=dumps)


def principal(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)


def dumps(value: Any) -> str:
    """JSON for every admin response: Chinese as it is, dates and decimals as text."""
    return json.dumps(value, ensure_ascii=False, default=str)


@web.middleware
async def admin_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A bearer token, or a console session cookie (with its CSRF token on requests that change something)."""
    if not request.path.startswith(PREFIX):
        return await handler(request)
    admin = request.config_dict[CONFIG].admin
    token = admin.api_token
    given = request.headers.get("Authorization", "")
    if not given:
        session = await request_session(request)
        if session is not None:
            user = await run_blocking(request.config_dict, user_or_none, session.username)
            if user is None or user.disabled:
                await request.config_dict[SESSIONS].close(session)
                return error(401, "the console session has ended: sign in again at /admin/login")
            request[PRINCIPAL] = Principal(user.username, user.role, user.must_change_password)
            if request.method in UNSAFE_METHODS and not csrf_ok(request, session):
                return error(403, f"missing or wrong {CSRF_HEADER} header for this console session")
            return await _authorised(request, handler)
        if COOKIE in request.cookies:
            return error(401, "the console session has ended: sign in again at /admin/login")
    if not token:
        return error(403, "the admin API is disabled: set [admin] api_token (WXSHOP_ADMIN__API_TOKEN)"
                          " or sign in to the console at /admin/login")  # fmt: skip
    if not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].encode(), token.encode()):
        return error(401, "missing or wrong bearer token")
    request[PRINCIPAL] = Principal(TOKEN_USER, admin.api_token_role)
    return await _authorised(request, handler)


async def _authorised(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Call the handler when the caller's role reaches the route's (bot.admin.permissions)."""
    who: Principal = request[PRINCIPAL]
    route = route_of(request)
    if who.must_change_password and route not in (PASSWORD_ROUTE, SESSION_ROUTE):
        return error(403, "the password must be changed first: POST /admin/api/password")
    needed = needed_role(request.method, route)
    if needed is None:
        if request.match_info.route.resource is None:
            return await handler(request)  # no such route: the router's 404 or 405
        if who.role != ADMIN:
            return error(403, f"this route has no role in the permissions table; only an admin may call {route}")
    elif not allows(who.role, needed):
        return error(403, f"role {who.role} may not {request.method} {route}: it needs {needed}",
                     role=who.role, needed=needed)  # fmt: skip
    return await handler(request)
