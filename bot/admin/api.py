"""The admin JSON API under /admin/api/, guarded by `Authorization: Bearer {admin.api_token}` or a console session
(bot.admin.sessions: the cookie, plus the `X-CSRF-Token` header on POST/PUT/PATCH/DELETE).

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
from bot.chat.conversation import RULES
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from dialogs.rules_cache import channel
from dialogs.rules_file import RulesInvalid, parse_toml, validate_document
from store.chat.keywords import current_version, delete_rule, load_rule_set, save_rules

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PREFIX = "/admin/api/"
TOML_TYPES = frozenset({"application/toml", "text/toml"})


def setup(app: web.Application, admin: web.Application) -> None:
    setup_sessions(app)
    admin.router.add_get("/api/keywords", list_keywords)
    admin.router.add_post("/api/keywords", import_keywords)
    admin.router.add_delete("/api/keywords/{name}", remove_keyword)
    admin.router.add_get("/api/keywords/test", test_keywords)


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


async def list_keywords(request: web.Request) -> web.Response:
    rule_set = await run_blocking(request.config_dict, load_rule_set)
    rules = [
        {
            "name": r.name,
            "keywords": list(r.keywords),
            "match": r.match,
            "priority": r.priority,
            "enabled": r.enabled,
            "starts": r.starts.isoformat() if r.starts else None,
            "ends": r.ends.isoformat() if r.ends else None,
            "reply_mode": r.reply_mode,
            "reply": list(r.replies),
        }
        for r in rule_set.rules
    ]
    standing = {f"{kind}_reply": list(replies) for kind, replies in rule_set.standing.items()}
    return web.json_response({"version": rule_set.version, "rules": rules, **standing}, dumps=dumps)


async def import_keywords(request: web.Request) -> web.Response:
    """Body: the rules document as JSON (`{"rules": [...], "follow_reply": …, "default_reply": …}`), or the rules
    file itself with `Content-Type: application/toml` (the console's upload); query `replace=1` deletes rules the
    body does not name. Validated whole; nothing is saved on any problem."""
    try:
        if request.content_type in TOML_TYPES:
            document = parse_toml(await request.text())
        else:
            document = validate_document(await request.json())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "body is not JSON")
    except RulesInvalid as exc:
        return error(422, "the rules have problems; nothing was saved", problems=exc.errors)
    app = request.config_dict
    replace = request.query.get("replace") in ("1", "true", "yes")
    now = app[RESOURCES].clock.now()
    created, updated, deleted = await run_blocking(
        app, save_rules, document.rules, document.standing, now, replace=replace
    )
    version = await _rules_changed(app)
    return web.json_response({"version": version, "created": created, "updated": updated, "deleted": deleted})


async def _rules_changed(app: web.Application) -> int:
    """Tell every process the rules moved (pub/sub) and reload this one's copy; the new version."""
    version = await run_blocking(app, current_version)
    await app[RESOURCES].aredis.publish(channel(app[CONFIG].redis.prefix), str(version))
    await run_blocking(app, app[RULES].refresh)
    return version


async def remove_keyword(request: web.Request) -> web.Response:
    app = request.config_dict
    if not await run_blocking(app, delete_rule, request.match_info["name"]):
        return error(404, "no rule with that name")
    version = await _rules_changed(app)
    return web.json_response({"version": version, "deleted": request.match_info["name"]}, dumps=dumps)


async def test_keywords(request: web.Request) -> web.Response:
    """Which rule answers `text` now, with every conflict between rules (for the console's rule editor)."""
    text = request.query.get("text", "")
    if not text:
        return error(400, "query parameter text is required")
    compiled = request.config_dict[RULES].current
    now = request.config_dict[RESOURCES].clock.now()
    hit = compiled.match(text, now)
    conflicts = await run_blocking(request.config_dict, compiled.matcher.conflicts, now)
    result: dict[str, Any] = {"text": text, "rule": None, "conflicts": [str(c) for c in conflicts]}
    if hit is not None:
        match, record = hit
        result["rule"] = {
            "name": record.name,
            "mode": match.mode,
            "keyword": match.keyword,
            "priority": record.priority,
            "reply_mode": record.reply_mode,
            "reply": list(record.replies),
        }
    return web.json_response(result, dumps=dumps)
