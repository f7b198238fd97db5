"""Segments and campaigns in the admin API.

* `GET /admin/api/segments` — every saved segment with its rule and its size on tonight's profiles.
* `POST /admin/api/segments/preview` — body: a rule (`{"lifecycle": ["衰退"], "bought_category": "服饰",
  "bought_within_days": 180, "tier_at_least": "vip"}`): `{"size": n}`, or 422 listing every problem.
* `PUT /admin/api/segments/{name}` — body: a rule; saves it (created or replaced): 200 with its size. A rule may
  name the night's clusters: `{"cluster": [2]}`.
* `GET /admin/api/clusters` — the night's clusters: number, label ("高频低客单 · 服饰"), size, share, centroid
  (mean R, F, M, B scores) and figures (buyers, orders per buyer, order value, days since paid, events, traits).
* `GET /admin/api/campaigns` — every campaign with its results (targeted, queued, pending, sent, delivered,
  failed).
* `POST /admin/api/campaigns` — body `{"name", "segment", "subject", "detail"}` (the `campaign` notice's fields,
  linted as template values): 201 with the draft; 409 when the name is taken; 422 listing every problem.
* `POST /admin/api/campaigns/{name}/dry-run` — who a start would reach now; nothing is queued.
* `POST /admin/api/campaigns/{name}/start` — queues the notice for every subscribed member of the segment not
  queued yet (once per member however often it is called); 200 with the results and `queued_now`.
* `GET /admin/api/campaigns/{name}` — its results.
"""

from __future__ import annotations

import dataclasses
import json
from functools import partial
from typing import Any

from aiohttp import web

from bot.admin.api import error
from bot.web.runtime import RESOURCES, run_blocking
from store.outbox.template_lint import TemplateLintError
from store.profiles.campaigns import (
    CampaignError,
    campaign_result,
    create_campaign,
    dry_run,
    list_campaigns,
    start_campaign,
)
from store.profiles.clusters import stored_clusters
from store.profiles.segments import SegmentError, list_segments, parse_rule, preview, save_segment

_dumps = partial(json.dumps, ensure_ascii=False, default=str)


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_get("/api/segments", segments_view)
    admin.router.add_post("/api/segments/preview", preview_view)
    admin.router.add_put("/api/segments/{name}", save_view)
    admin.router.add_get("/api/clusters", clusters_view)
    admin.router.add_get("/api/campaigns", campaigns_view)
    admin.router.add_post("/api/campaigns", create_view)
    admin.router.add_post("/api/campaigns/{name}/dry-run", dry_run_view)
    admin.router.add_post("/api/campaigns/{name}/start", start_view)
    admin.router.add_get("/api/campaigns/{name}", campaign_view)


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

    return web.json_response({"segments": await run_blocking(request.config_dict, run)}, dumps=_dumps)


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
    return web.json_response({"name": request.match_info["name"], "size": size}, dumps=_dumps)


async def clusters_view(request: web.Request) -> web.Response:
    def run() -> list[dict[str, object]]:
        return [dataclasses.asdict(c) for c in stored_clusters()]

    return web.json_response({"clusters": await run_blocking(request.config_dict, run)}, dumps=_dumps)


async def campaigns_view(request: web.Request) -> web.Response:
    def run() -> list[dict[str, object]]:
        return [campaign_result(c.name).as_dict() for c in list_campaigns()]

    return web.json_response({"campaigns": await run_blocking(request.config_dict, run)}, dumps=_dumps)


async def create_view(request: web.Request) -> web.Response:
    body = await _body(request)
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("name", "segment")):
        return error(422, "expected name, segment, subject and detail")
    fields = {k: body.get(k) for k in ("subject", "detail")}
    try:
        await run_blocking(request.config_dict, create_campaign, body["name"], body["segment"], fields, _now(request))
    except TemplateLintError as exc:
        return error(422, "the campaign's fields have problems", problems=list(exc.args[0]))
    except CampaignError as exc:
        status = 409 if "exists" in str(exc) else 422
        return error(status, str(exc))
    result = await run_blocking(request.config_dict, campaign_result, body["name"])
    return web.json_response(result.as_dict(), status=201, dumps=_dumps)


async def dry_run_view(request: web.Request) -> web.Response:
    try:
        plan = await run_blocking(request.config_dict, dry_run, request.match_info["name"], _now(request))
    except CampaignError as exc:
        return error(404, str(exc))
    return web.json_response({"dry_run": True, **plan})


async def start_view(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    try:
        queued = await run_blocking(request.config_dict, start_campaign, name, _now(request))
    except CampaignError as exc:
        return error(404, str(exc))
    result = await run_blocking(request.config_dict, campaign_result, name)
    return web.json_response({**result.as_dict(), "queued_now": queued}, dumps=_dumps)


async def campaign_view(request: web.Request) -> web.Response:
    try:
        result = await run_blocking(request.config_dict, campaign_result, request.match_info["name"])
    except CampaignError as exc:
        return error(404, str(exc))
    return web.json_response(result.as_dict(), dumps=_dumps)
