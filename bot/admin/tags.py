"""WeChat user tags in the admin API: which segments sync to a tag, and running the sync now.

* `GET /admin/api/tags` — every tag: name, source (segment / tier) and its name, WeChat's tag_id, whether it
  syncs, how many followers carry it on WeChat, when a run last finished it, the last error, its menu's menuid.
* `PUT /admin/api/segments/{name}/sync-tag` — body `{"sync": true, "tag": "高价值客户"}` (`tag` defaults to the
  segment's name, ≤ 30 bytes): mark the segment "sync to tag" (or stop, `"sync": false`); 404 for an unknown
  segment, 422 for a bad or taken tag name.
* `POST /admin/api/segments/{name}/sync-tag` — sync that segment's tag now: `{"results": [{tag, tag_id, tagged,
  untagged, left, error}]}`; 404 when the segment has no tag. `POST /admin/api/tags/sync` syncs every tag (the
  tier tags included), as the nightly job does. WeChat refusing a call ends that tag's run (its `error`); the
  progress made stays.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.features.tags import sync_settings
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from bot.wechat.gateway import WECHAT
from scheduler.tag_jobs import TagSync, sync_tags
from store.tags.links import TagError, UnknownSegment, mark_segment, tag_of_segment, tag_rows


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_get("/api/tags", tags_view)
    admin.router.add_post("/api/tags/sync", sync_all_view)
    admin.router.add_put("/api/segments/{name}/sync-tag", mark_view)
    admin.router.add_post("/api/segments/{name}/sync-tag", sync_segment_view)


async def tags_view(request: web.Request) -> web.Response:
    rows = await run_blocking(request.config_dict, tag_rows)
    return web.json_response({"tags": rows}, dumps=dumps)


async def mark_view(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("sync", True), bool):
        return error(400, 'body must be {"sync": true|false, "tag": "NAME"}')
    tag = body.get("tag", "")
    if not isinstance(tag, str):
        return error(422, "the tag has problems", problems=["tag: expected a name"])
    app = request.config_dict
    segment = request.match_info["name"]
    try:
        row = await run_blocking(app, mark_segment, segment, body.get("sync", True), tag, app[RESOURCES].clock.now())
    except UnknownSegment as exc:
        return error(404, str(exc))
    except TagError as exc:
        return error(422, "the tag has problems", problems=[str(exc)])
    return web.json_response({"segment": segment, "tag": row.name, "syncing": row.syncing, "tag_id": row.tag_id})


def _results(results: list[TagSync]) -> web.Response:
    return web.json_response({"results": [dataclasses.asdict(r) for r in results]}, dumps=dumps)


async def _sync(request: web.Request, only: str | None) -> list[TagSync]:
    app = request.config_dict
    settings = sync_settings(app[CONFIG])
    return await run_blocking(app, sync_tags, app[WECHAT], settings, app[RESOURCES].clock.now(), only)


async def sync_all_view(request: web.Request) -> web.Response:
    return _results(await _sync(request, None))


async def sync_segment_view(request: web.Request) -> web.Response:
    segment = request.match_info["name"]
    tag: Any = await run_blocking(request.config_dict, tag_of_segment, segment)
    if tag is None:
        return error(404, f"segment {segment!r} does not sync to a tag (PUT …/sync-tag first)")
    return _results(await _sync(request, tag.name))
