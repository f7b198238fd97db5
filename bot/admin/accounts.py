"""Console accounts over the admin API: an admin lists, creates, disables and enables operators, changes their
role and resets their password (they must change it at the next sign-in); every signed-in user changes their own
password with the current one. Disabling a user ends their sessions at once."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error, principal
from bot.admin.sessions import SESSIONS
from bot.web.runtime import RESOURCES, run_blocking
from store.operators.roles import ROLE_NAMES
from store.operators.users import (
    AdminUser,
    AdminUserError,
    UserExists,
    UserNotFound,
    WrongPassword,
    change_password,
    create_user,
    disable_user,
    enable_user,
    list_users,
    reset_password,
    set_role,
)


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_get("/api/operators", list_view)
    admin.router.add_post("/api/operators", create)
    admin.router.add_patch("/api/operators/{username}", change)
    admin.router.add_post("/api/operators/{username}/reset-password", reset)
    admin.router.add_post("/api/password", own_password)


def user_dict(user: AdminUser) -> dict[str, Any]:
    return {
        "username": user.username, "role": user.role, "role_label": ROLE_NAMES.get(user.role, user.role),
        "disabled": user.disabled, "must_change_password": user.must_change_password,
        "created_at": user.created_at.isoformat(timespec="minutes"),
    }  # fmt: skip


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except ValueError:
        return error(400, "body is not JSON")
    return body if isinstance(body, dict) else error(400, "body must be a JSON object")


def _strings(body: dict[str, Any], *names: str) -> list[str]:
    return [f"{name}: a string is required" for name in names if not isinstance(body.get(name), str)]


async def list_view(request: web.Request) -> web.Response:
    users = await run_blocking(request.config_dict, list_users)
    return web.json_response({"operators": [user_dict(u) for u in users]}, dumps=dumps)


async def create(request: web.Request) -> web.Response:
    """`{"username", "password", "role"}` → 201 the account; it must change the password at its first sign-in."""
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    missing = _strings(body, "username", "password", "role")
    if missing:
        return error(422, "the account has problems", problems=missing)
    now = request.config_dict[RESOURCES].clock.now()
    try:
        user = await run_blocking(
            request.config_dict, create_user, body["username"].strip(), body["password"], now, body["role"], True
        )
    except UserExists as exc:
        return error(409, str(exc))
    except AdminUserError as exc:
        return error(422, str(exc), problems=[str(exc)])
    return web.json_response(user_dict(user), status=201, dumps=dumps)


async def change(request: web.Request) -> web.Response:
    """`{"role"?, "disabled"?}`: an admin may not disable or demote themself (someone must stay admin)."""
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    username = request.match_info["username"]
    problems = []
    if "role" in body and not isinstance(body["role"], str):
        problems.append("role: a string is required")
    if "disabled" in body and not isinstance(body["disabled"], bool):
        problems.append("disabled: true or false is required")
    if not problems and not ({"role", "disabled"} & body.keys()):
        problems.append('the body must be {"role"?: str, "disabled"?: bool}')
    if problems:
        return error(422, "the change has problems", problems=problems)
    me = principal(request)
    if me is not None and me.username == username and (body.get("disabled") or body.get("role", me.role) != me.role):
        return error(409, "you cannot disable or demote yourself")
    app = request.config_dict
    try:
        if "role" in body:
            await run_blocking(app, set_role, username, body["role"])
        if body.get("disabled") is True:
            await run_blocking(app, disable_user, username, app[RESOURCES].clock.now())
            await app[SESSIONS].end_all(username)
        elif body.get("disabled") is False:
            await run_blocking(app, enable_user, username)
    except UserNotFound as exc:
        return error(404, str(exc))
    except AdminUserError as exc:
        return error(422, str(exc), problems=[str(exc)])
    user = await run_blocking(app, AdminUser.get, AdminUser.username == username)
    return web.json_response(user_dict(user), dumps=dumps)


async def reset(request: web.Request) -> web.Response:
    """`{"password"}`: a new password the user must change at the next sign-in; their sessions end."""
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    if _strings(body, "password"):
        return error(422, "the password has problems", problems=_strings(body, "password"))
    app = request.config_dict
    username = request.match_info["username"]
    try:
        await run_blocking(app, reset_password, username, body["password"], app[RESOURCES].clock.now())
    except UserNotFound as exc:
        return error(404, str(exc))
    except AdminUserError as exc:
        return error(422, str(exc), problems=[str(exc)])
    await app[SESSIONS].end_all(username)
    user = await run_blocking(app, AdminUser.get, AdminUser.username == username)
    return web.json_response(user_dict(user), dumps=dumps)


async def own_password(request: web.Request) -> web.Response:
    """`{"old_password", "new_password"}` → 200; the current password is required (403 when wrong)."""
    me = principal(request)
    if me is None or me.username == "api-token":
        return error(409, "only a console user has a password to change")
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    missing = _strings(body, "old_password", "new_password")
    if missing:
        return error(422, "the password has problems", problems=missing)
    app = request.config_dict
    try:
        await run_blocking(
            app, change_password, me.username, body["old_password"], body["new_password"], app[RESOURCES].clock.now()
        )
    except WrongPassword as exc:
        return error(403, str(exc))
    except AdminUserError as exc:
        return error(422, str(exc), problems=[str(exc)])
    return web.json_response({"changed": True}, dumps=dumps)
