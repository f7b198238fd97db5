"""Keyword rules in the admin API, for the console's rule editor and for scripts (auth and errors from the admin
sub-app, bot.admin.app).

* `GET /admin/api/keywords` — the rules with, for each, the built-ins its keywords also match (`warnings`), the
  standing replies (`follow_reply`, `default_reply`) and every conflict between rules (`conflicts`).
* `POST /admin/api/keywords` — import a rules document (JSON, or the TOML file with `Content-Type:
  application/toml`); `replace=1` deletes rules the document does not name. Validated whole.
* `POST /admin/api/keywords/rules` — body: one rule (`{"name", "keywords", "match", "reply", …}` as in the
  file): 201; 409 when the name is taken; 422 listing every problem.
* `PUT /admin/api/keywords/{name}` — replace that rule with the body (which may rename it): 200; 404; 409; 422.
* `PATCH /admin/api/keywords/{name}` — body `{"enabled": true | false}`: switch it on or off.
* `DELETE /admin/api/keywords/{name}`.
* `GET /admin/api/keywords/test?text=` — who answers the text now and with what: the rule (`rule`), or the
  built-in that answers although a rule matches (`hijacked_by`, with `matched_rule`), or, when no rule answers,
  the dialog engine's step and reply (`engine`, from bot.chat.probe: nothing of the probe turn is kept).

Every change bumps the rules' version and is announced to every process; this one reloads before answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.chat.conversation import RULES, SEARCH, SEARCH_BUILT, UNDERSTANDING
from bot.chat.probe import EngineAnswer, payloads, probe_engine, verdict
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from dialogs.engine import Engine
from dialogs.intents import shadowing
from dialogs.matcher import Conflict
from dialogs.rules_cache import channel
from dialogs.rules_file import RulesInvalid, parse_toml, validate_document, validate_one
from dialogs.understanding.labels import LABELS
from store.chat.keywords import (
    RuleExists,
    RuleRecord,
    create_rule,
    current_version,
    delete_rule,
    load_rule_set,
    replace_rule,
    save_rules,
    set_rule_enabled,
)

TOML_TYPES = frozenset({"application/toml", "text/toml"})
PROBE = web.AppKey("keywords_probe_engine", Engine)


def setup(app: web.Application, admin: web.Application) -> None:
    app.cleanup_ctx.append(_probe_ctx)
    admin.router.add_get("/api/keywords", list_keywords)
    admin.router.add_post("/api/keywords", import_keywords)
    admin.router.add_post("/api/keywords/rules", create_view)
    admin.router.add_get("/api/keywords/test", test_keywords)
    admin.router.add_put("/api/keywords/{name}", replace_view)
    admin.router.add_patch("/api/keywords/{name}", enable_view)
    admin.router.add_delete("/api/keywords/{name}", remove_keyword)


async def _probe_ctx(app: web.Application) -> AsyncIterator[None]:
    """One probe engine per process, over the process's own rules, search index and model (kept fresh by the
    conversation's watcher); built after the conversation is set up."""
    app[PROBE] = probe_engine(app[CONFIG], app[RESOURCES], app[RULES], app[SEARCH], app[UNDERSTANDING])
    yield


def _label(intent: str | None) -> str | None:
    return LABELS.get(intent, intent) if intent else None


def _rule_dict(record: RuleRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "keywords": list(record.keywords),
        "match": record.match,
        "priority": record.priority,
        "enabled": record.enabled,
        "starts": record.starts.isoformat() if record.starts else None,
        "ends": record.ends.isoformat() if record.ends else None,
        "reply_mode": record.reply_mode,
        "reply": list(record.replies),
        "overrides": record.overrides,
        "warnings": [
            {"intent": intent, "label": _label(intent), "word": word, "effect": effect}
            for intent, word, effect in shadowing(record.keywords, record.match, record.overrides)
        ],
    }


def _conflict_dict(conflict: Conflict, now: datetime) -> dict[str, Any]:
    """A conflict as data: the console says it in Chinese; `message` is the English line for scripts."""
    rule = conflict.rule
    reason = None
    if conflict.kind == "never_fires":
        if not rule.enabled:
            reason = "disabled"
        elif rule.starts is not None and rule.ends is not None and rule.ends <= rule.starts:
            reason = "empty_window"
        else:
            reason = "window_closed"
    return {
        "kind": conflict.kind,
        "rule": rule.name,
        "other": conflict.other.name if conflict.other else None,
        "keyword": conflict.keyword,
        "reason": reason,
        "ends": rule.ends.isoformat() if rule.ends else None,
        "message": conflict.message,
    }


def _now(request: web.Request) -> datetime:
    return request.config_dict[RESOURCES].clock.now()


async def list_keywords(request: web.Request) -> web.Response:
    app = request.config_dict
    rule_set = await run_blocking(app, load_rule_set)
    now = _now(request)
    compiled = app[RULES].current
    conflicts = await run_blocking(app, compiled.matcher.conflicts, now)
    standing = {f"{kind}_reply": list(replies) for kind, replies in rule_set.standing.items()}
    body = {
        "version": rule_set.version,
        "rules": [_rule_dict(r) for r in rule_set.rules],
        **standing,
        "conflicts": [_conflict_dict(c, now) for c in conflicts],
    }
    return web.json_response(body, dumps=dumps)


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
    created, updated, deleted = await run_blocking(
        app, save_rules, document.rules, document.standing, _now(request), replace=replace
    )
    version = await _rules_changed(app)
    return web.json_response({"version": version, "created": created, "updated": updated, "deleted": deleted})


async def _rule_body(request: web.Request) -> dict[str, Any] | web.Response:
    """The validated rule of the request's body, or the error response."""
    try:
        raw = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "body is not JSON")
    try:
        return validate_one(raw)
    except RulesInvalid as exc:
        return error(422, "the rule has problems; nothing was saved", problems=exc.errors)


async def _saved(request: web.Request, name: str, status: int) -> web.Response:
    app = request.config_dict
    version = await _rules_changed(app)
    rule_set = await run_blocking(app, load_rule_set)
    record = next(r for r in rule_set.rules if r.name == name)
    return web.json_response({"version": version, "rule": _rule_dict(record)}, status=status, dumps=dumps)


async def create_view(request: web.Request) -> web.Response:
    rule = await _rule_body(request)
    if isinstance(rule, web.Response):
        return rule
    try:
        await run_blocking(request.config_dict, create_rule, rule, _now(request))
    except RuleExists:
        return error(409, f"a rule named {rule['name']!r} exists already")
    return await _saved(request, rule["name"], 201)


async def replace_view(request: web.Request) -> web.Response:
    rule = await _rule_body(request)
    if isinstance(rule, web.Response):
        return rule
    name = request.match_info["name"]
    try:
        found = await run_blocking(request.config_dict, replace_rule, name, rule, _now(request))
    except RuleExists:
        return error(409, f"a rule named {rule['name']!r} exists already")
    if not found:
        return error(404, "no rule with that name")
    return await _saved(request, rule["name"], 200)


async def enable_view(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "body is not JSON")
    if not isinstance(body, dict) or set(body) != {"enabled"} or not isinstance(body["enabled"], bool):
        return error(422, "the change has problems", problems=['the body must be {"enabled": true | false}'])
    name = request.match_info["name"]
    if not await run_blocking(request.config_dict, set_rule_enabled, name, body["enabled"], _now(request)):
        return error(404, "no rule with that name")
    return await _saved(request, name, 200)


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


def _engine_dict(answer: EngineAnswer) -> dict[str, Any]:
    return {
        "kind": answer.kind,
        "intent": answer.intent,
        "label": _label(answer.intent),
        "argument": answer.argument,
        "confidence": answer.confidence,
        "replies": payloads(answer.answer),
        "transfer": answer.answer.transfer,
        "step": answer.step,
    }


async def test_keywords(request: web.Request) -> web.Response:
    """Who answers `text` now: a rule, a built-in before it, or the dialog engine; with every conflict."""
    text = request.query.get("text", "")
    if not text:
        return error(400, "query parameter text is required")
    app = request.config_dict
    with contextlib.suppress(Exception):  # the first search waits for the start-up index, as a follower's would
        await asyncio.shield(app[SEARCH_BUILT])
    compiled = app[RULES].current
    found = await run_blocking(app, verdict, app[CONFIG], app[RESOURCES], compiled, text, app[PROBE])
    now = _now(request)
    conflicts = await run_blocking(app, compiled.matcher.conflicts, now)
    result: dict[str, Any] = {
        "text": text,
        "rule": None,
        "matched_rule": None,
        "hijacked_by": None,
        "engine": _engine_dict(found.engine) if found.engine else None,
        "conflicts": [_conflict_dict(c, now) for c in conflicts],
    }
    for key, hit in (("rule", found.rule), ("matched_rule", found.matched if found.hijacked_by else None)):
        if hit is not None:
            match, record = hit
            result[key] = {
                "name": record.name,
                "mode": match.mode,
                "keyword": match.keyword,
                "priority": record.priority,
                "reply_mode": record.reply_mode,
                "reply": list(record.replies),
            }
    if found.hijacked_by:
        result["hijacked_by"] = {"intent": found.hijacked_by, "label": _label(found.hijacked_by)}
    return web.json_response(result, dumps=dumps)
