"""The understanding layer's learning loop in the admin API (auth and errors from the admin sub-app,
bot.admin.app): what shoppers asked that the bot could not place, and teaching it — what `wxshop nlu` does.

* `GET /admin/api/nlu/intents` — every intent with its Chinese name and its examples: `shipped`, `file` (the
  operators' examples file), `taught`.
* `GET /admin/api/nlu/unanswered?limit=&before_id=&all=` — the inbox newest first (by first sighting), paged by
  id (`next_before_id`); `all=1` keeps the questions already taught. This process's sightings are stored first.
* `GET /admin/api/nlu/unanswered/groups` — the open questions (the 500 most frequent) grouped by similarity
  (dialogs.understanding.grouping), the group asked most often first; each with the model's best guess of its
  intent, however unsure, to offer when teaching.
* `DELETE /admin/api/nlu/unanswered/{id}` — dismiss one (it comes back, counted afresh, if shoppers ask again).
* `GET /admin/api/nlu/examples?intent=` — the taught examples, oldest first.
* `POST /admin/api/nlu/examples` `{"text", "intent"}` — teach (dialogs.understanding.teaching, as the CLI): 201
  the example (200 when taught before), the same question marked taught in the inbox; 422 listing every problem.
* `DELETE /admin/api/nlu/examples/{id}` — forget one.

A change retrains this process's model before answering and is announced to every other process.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.admin.params import page_size, parse_int, query_int
from bot.chat.conversation import UNANSWERED, UNDERSTANDING, flush_unanswered
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from dialogs.rules_cache import channel
from dialogs.understanding.cache import UnderstanderCache
from dialogs.understanding.corpus import load_examples, shipped_examples
from dialogs.understanding.grouping import group
from dialogs.understanding.teaching import ExampleInvalid, intent_counts, teach
from store.chat.nlu import (
    TaughtExample,
    Unanswered,
    dismiss_unanswered,
    list_unanswered,
    remove_example_by_id,
    taught_counts,
    taught_examples,
    unanswered_page,
)

MAX_PAGE = 200
MAX_GROUPED = 500


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_get("/api/nlu/intents", intents_view)
    admin.router.add_get("/api/nlu/unanswered", unanswered_view)
    admin.router.add_get("/api/nlu/unanswered/groups", groups_view)
    admin.router.add_delete("/api/nlu/unanswered/{id}", dismiss_view)
    admin.router.add_get("/api/nlu/examples", examples_view)
    admin.router.add_post("/api/nlu/examples", teach_view)
    admin.router.add_delete("/api/nlu/examples/{id}", forget_view)


def _labels(request: web.Request) -> dict[str, str]:
    return dict(request.config_dict[UNDERSTANDING].current.labels)


def _example_dict(example: TaughtExample, labels: dict[str, str]) -> dict[str, Any]:
    return {**asdict(example), "label": labels.get(example.intent)}


def _unanswered_dict(row: Unanswered) -> dict[str, Any]:
    return {
        "id": row.id, "text": row.text, "count": row.count, "last_seen": row.last_seen, "outcome": row.outcome,
        "example_openid": row.example_openid, "taught_intent": row.taught_intent,
    }  # fmt: skip


def _path_id(request: web.Request, what: str) -> int:
    value = parse_int(request.match_info["id"], what, low=1)
    assert value is not None
    return value


async def _changed(request: web.Request) -> None:
    """Retrain here now, and tell every other process (they retrain on the keyword rules' channel)."""
    app = request.config_dict
    await app[RESOURCES].aredis.publish(channel(app[CONFIG].redis.prefix), "nlu")
    await run_blocking(app, app[UNDERSTANDING].refresh)


def _intents(labels: dict[str, str], examples_file: str | None) -> list[dict[str, Any]]:
    from_file = load_examples(examples_file) if examples_file else []
    return [asdict(c) for c in intent_counts(labels, shipped_examples(), from_file, taught_counts())]


async def intents_view(request: web.Request) -> web.Response:
    app = request.config_dict
    rows = await run_blocking(app, _intents, _labels(request), app[CONFIG].nlu.examples_file or None)
    return web.json_response({"intents": rows}, dumps=dumps)


async def unanswered_view(request: web.Request) -> web.Response:
    query = request.query
    limit = page_size(query, "limit", 50, MAX_PAGE)
    before_id = query_int(query, "before_id", 0) or None
    include_taught = query.get("all") in ("1", "true", "yes")
    app = request.config_dict
    await run_blocking(app, flush_unanswered, app[UNANSWERED])
    rows = await run_blocking(app, unanswered_page, limit, before_id, include_taught)
    next_before = rows[-1].id if len(rows) == limit else None
    body = {"unanswered": [_unanswered_dict(r) for r in rows], "next_before_id": next_before}
    return web.json_response(body, dumps=dumps)


def _grouped(rows: list[Unanswered], model: UnderstanderCache, labels: dict[str, str]) -> list[dict[str, Any]]:
    groups = []
    for members in group([row.norm for row in rows]):
        questions = [rows[i] for i in members]
        guess = model.understand(questions[0].text).prediction
        groups.append({
            "total": sum(q.count for q in questions),
            "last_seen": max(q.last_seen for q in questions),
            "guess": {"intent": guess.intent, "label": labels.get(guess.intent), "confidence": guess.confidence},
            "questions": [_unanswered_dict(q) for q in questions],
        })  # fmt: skip
    groups.sort(key=lambda g: (-g["total"], -g["last_seen"].timestamp()))
    return groups


async def groups_view(request: web.Request) -> web.Response:
    app = request.config_dict
    await run_blocking(app, flush_unanswered, app[UNANSWERED])
    rows = await run_blocking(app, list_unanswered, MAX_GROUPED)
    groups = await run_blocking(app, _grouped, rows, app[UNDERSTANDING], _labels(request))
    return web.json_response({"groups": groups}, dumps=dumps)


async def dismiss_view(request: web.Request) -> web.Response:
    utterance_id = _path_id(request, "question id")
    if not await run_blocking(request.config_dict, dismiss_unanswered, utterance_id):
        return error(404, "no such question in the inbox")
    return web.json_response({"dismissed": utterance_id})


async def examples_view(request: web.Request) -> web.Response:
    intent = request.query.get("intent") or None
    labels = _labels(request)
    examples = await run_blocking(request.config_dict, taught_examples, intent)
    return web.json_response({"examples": [_example_dict(e, labels) for e in examples]}, dumps=dumps)


async def teach_view(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not isinstance(body.get("intent"), str):
        return error(422, "the example was not taught", problems=['the body must be {"text": str, "intent": str}'])
    app, labels = request.config_dict, _labels(request)
    try:
        example, created = await run_blocking(
            app, teach, body["text"], body["intent"], labels, app[RESOURCES].clock.now()
        )
    except ExampleInvalid as exc:
        extra = {"known_intents": sorted(labels)} if exc.unknown_intent else {}
        return error(422, "the example was not taught", problems=exc.problems, **extra)
    if created:
        await _changed(request)
    return web.json_response(_example_dict(example, labels), status=201 if created else 200, dumps=dumps)


async def forget_view(request: web.Request) -> web.Response:
    example_id = _path_id(request, "example id")
    example = await run_blocking(request.config_dict, remove_example_by_id, example_id)
    if example is None:
        return error(404, "no such example")
    await _changed(request)
    return web.json_response({"forgotten": _example_dict(example, _labels(request))}, dumps=dumps)
