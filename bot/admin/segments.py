"""Segments and clusters in the admin API.

* `GET /admin/api/segments` — every saved segment with its rule and its size on tonight's profiles.
* `POST /admin/api/segments/preview` — body: a rule (`{"lifecycle": ["衰退"], "bought_category": "服饰",
  "bought_within_days": 180, "tier_at_least": "vip"}`): `{"size": n}`, or 422 listing every problem.
* `PUT /admin/api/segments/{name}` — body: a rule; saves it (created or replaced): 200 with its size. A rule may
  name the night's clusters: `{"cluster": [2]}`.
* `GET /admin/api/clusters` — the night's clusters: number, label ("高频低客单 · 服饰"), size, share, centroid
  (mean R, F, M, B scores) and figures (buyers, orders per buyer, order value, days since paid, events, traits).

Campaigns over segments are `bot/admin/campaigns.py`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.web.runtime import RESOURCES, run_blocking
from store.profiles.clusters import stored_clusters
from store.profiles.segments import SegmentError, list_segments, parse_rule, preview, save_segment


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_get("/api/segments", segments_view)
    admin.router.add_post("/api/segments/preview", preview_view)
    admin.router.add_put("/api/segments/{name}", save_view)
    admin.router.add_get("/api/clusters", clusters_view)


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text='{"error": "body is not JSON"}', content_type="application/json") from None


def _now(request: web.Request) -> Any:
    return request.config_dict[RESOURCES].clock.now()


async def segments_view(request: web.Request) -> web.Response:
    now = _now(request)

    def run() -> list[dict[str, Any]]:
        out = []
        for segment in list_segments():
            rule = parse_rule(json.loads(segment.rule))
            out.append({"name": segment.name, "rule": json.loads(segment.rule), "size": preview(rule, now)})
        return out

    return web.json_response({"segments": await run_blocking(request.config_dict, run)}, dumps=dumps)


async def preview_view(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        rule = parse_rule(body)
    except SegmentError as exc:
        return error(422, "the segment rule has problems", problems=exc.args[0])
    return web.json_response({"size": await run_blocking(request.config_dict, preview, rule, _now(request))})


async def save_view(request: web.Request) -> web.Response:
    body = await _body(request)
    now = _now(request)
    try:
        rule = parse_rule(body)

        def run() -> int:
            save_segment(request.match_info["name"], rule, now)
            return preview(rule, now)

        size = await run_blocking(request.config_dict, run)
    except SegmentError as exc:
        return error(422, "the segment rule has problems", problems=exc.args[0])
    return web.json_response({"name": request.match_info["name"], "size": size}, dumps=dumps)


async def clusters_view(request: web.Request) -> web.Response:
    def run() -> list[dict[str, object]]:
        return [dataclasses.asdict(c) for c in stored_clusters()]

    return web.json_response({"clusters": await run_blocking(request.config_dict, run)}, dumps=dumps)
