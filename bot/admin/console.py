"""The operators' web console: `/admin/login`, `/admin/logout`, the single page at `/admin/` and its assets.

The page (`static/`, package data) is plain HTML and vanilla JS over the admin JSON API; it reads its CSRF
token from `GET /admin/api/session` and sends it with every change. Pages without a live session redirect to the
login form. A failed login answers the same whatever failed (unknown user, wrong password, disabled user); the
sessions are bot.admin.sessions', the sign-in limit bot.admin.login_limit's (a slot is reserved before the
password is hashed), the users store.operators.users'.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path

from aiohttp import web

from bot.admin.api import error, principal
from bot.admin.login_limit import LOGIN_LIMIT, setup_login_limit
from bot.admin.sessions import SESSIONS, csrf_ok, request_session
from bot.web.runtime import run_blocking
from store.operators.roles import ROLE_NAMES
from store.operators.users import authenticate

STATIC = Path(__file__).parent / "static"
ASSETS = {
    "console.js": "text/javascript",
    "console.css": "text/css",
    "labels.json": "application/json",
    "echarts.min.js": "text/javascript",  # Apache ECharts 6.1.0 (Apache-2.0), vendored: the console works offline
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store", "Referrer-Policy": "same-origin"}
MAX_FIELD_CHARS = 1024
FAILED = "用户名或密码错误，或该账号已停用。"
LOCKED = "登录失败次数过多，请稍后再试。"

LOGIN_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 · wxshop 管理后台</title><link rel="stylesheet" href="/admin/static/console.css"></head>
<body class="login"><form class="login-box" method="post" action="/admin/login">
<h1>wxshop 管理后台</h1>{message}
<label>用户名<input name="username" autocomplete="username" required autofocus></label>
<label>密码<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="login">登录</button></form></body></html>
"""


def setup(app: web.Application, admin: web.Application) -> None:
    """Routes of the console and its sign-in limit; the sessions are set up with the admin API (bot.admin.api)."""
    setup_login_limit(app)
    admin.router.add_get("/", console_page)
    admin.router.add_get("/login", login_form)
    admin.router.add_post("/login", login_submit)
    admin.router.add_post("/logout", logout)
    admin.router.add_get("/api/session", session_view)
    for name in ASSETS:
        admin.router.add_get(f"/static/{name}", asset)


@functools.cache
def _static_bytes(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def _login_page(status: int = 200, message: str = "") -> web.Response:
    shown = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    return web.Response(status=status, text=LOGIN_PAGE.format(message=shown), content_type="text/html",
                        headers=PAGE_HEADERS)  # fmt: skip


async def to_console(request: web.Request) -> web.Response:
    return _redirect("/admin/")


async def console_page(request: web.Request) -> web.Response:
    if await request_session(request) is None:
        return _redirect("/admin/login")
    return web.Response(body=_static_bytes("index.html"), content_type="text/html", headers=PAGE_HEADERS)


async def login_form(request: web.Request) -> web.Response:
    if await request_session(request) is not None:
        return _redirect("/admin/")
    return _login_page()


async def login_submit(request: web.Request) -> web.Response:
    app = request.config_dict
    form = await request.post()
    username = str(form.get("username", "")).strip()[:MAX_FIELD_CHARS]
    password = str(form.get("password", ""))[:MAX_FIELD_CHARS]
    limit = app[LOGIN_LIMIT]
    address = limit.client(request)
    if not await limit.reserve(username, address):
        return _login_page(429, LOCKED)
    user = await run_blocking(app, authenticate, username, password)
    if user is None:
        return _login_page(401, FAILED)
    await limit.succeeded(username, address)
    sessions = app[SESSIONS]
    token, _ = await sessions.open(user.username)
    response = _redirect("/admin/")
    sessions.set_cookie(response, token)
    return response


async def logout(request: web.Request) -> web.Response:
    """Ends the session (CSRF token in the header, or a `csrf_token` form field) and clears the cookie."""
    session = await request_session(request)
    if session is not None:
        form = await request.post() if request.content_type == "application/x-www-form-urlencoded" else {}
        if not csrf_ok(request, session, str(form.get("csrf_token", ""))):
            return error(403, "missing or wrong X-CSRF-Token header")
        await request.config_dict[SESSIONS].close(session)
    response = _redirect("/admin/login")
    request.config_dict[SESSIONS].clear_cookie(response)
    return response


async def session_view(request: web.Request) -> web.Response:
    """Who is signed in, with which role, and the CSRF token the page must send; nulls for a bearer-token client
    (whose role is still given)."""
    session = None if request.headers.get("Authorization") else await request_session(request)
    ttl = request.config_dict[SESSIONS].ttl
    who = principal(request)
    body = {
        "username": session.username if session else None,
        "csrf_token": session.csrf if session else None,
        "role": who.role if who else None,
        "role_label": ROLE_NAMES.get(who.role) if who else None,
        "must_change_password": bool(who and who.must_change_password),
        "idle_timeout_s": int(ttl.total_seconds()),
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def asset(request: web.Request) -> web.Response:
    name = request.path.rsplit("/", 1)[-1]
    return web.Response(body=_static_bytes(name), content_type=ASSETS[name],
                        headers={"Cache-Control": "public, max-age=300"})  # fmt: skip
