"""Campaigns in the admin API.

* `GET /admin/api/campaigns` — every campaign with its results.
* `POST /admin/api/campaigns` — body `{"name", "segment", "subject", "detail"}` and optionally `"channel"` (`both`:
  customer-service message inside a window, template outside; `custom`: customer-service only; `template`:
  template only), `"coupon"` (a coupon template's code, issued once per member), `"url"` (the link the message
  carries; taps counted), `"per_minute"` (throttle), `"attribution_days"` (orders counted after the message:
  `[marketing] attribution_days` by default) and `"starts_at"` (ISO time: scheduled). 201 with the campaign;
  409 when the name is taken; 422 listing every problem (fields linted for the channel's notice kind).
* `GET /admin/api/campaigns/{name}` — its results: targeted, queued, pending, sent, delivered, failed,
  cancelled, by_channel, clicked, converted, orders, revenue_fen.
* `POST /admin/api/campaigns/{name}/dry-run` — who a start would reach now; nothing is queued.
* `POST /admin/api/campaigns/{name}/start` — queue it now for every member of the audience not queued yet
  (once per member however often it is called), or body `{"at": ISO time}` to schedule it; 200 with the results
  and `queued_now`. 409 for a cancelled campaign.
* `POST /admin/api/campaigns/{name}/cancel` — not started: it never will be; started: its notices not yet sent
  are dropped and their coupons taken back. 200 with `cancelled_notices`, `coupons_withdrawn` and the results.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from store.core.clock import SHANGHAI
from store.outbox.template_lint import TemplateLintError
from store.profiles.campaign_results import campaign_result
from store.profiles.campaigns import (
    CampaignError,
    CampaignOptions,
    cancel_campaign,
    create_campaign,
    dry_run,
    list_campaigns,
    schedule_campaign,
    start_campaign,
)


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_get("/api/campaigns", campaigns_view)
    admin.router.add_post("/api/campaigns", create_view)
    admin.router.add_get("/api/campaigns/{name}", campaign_view)
    admin.router.add_post("/api/campaigns/{name}/dry-run", dry_run_view)
    admin.router.add_post("/api/campaigns/{name}/start", start_view)
    admin.router.add_post("/api/campaigns/{name}/cancel", cancel_view)


async def _body(request: web.Request, required: bool = True) -> Any:
    if not required and not await request.read():
        return {}
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text='{"error": "body is not JSON"}', content_type="application/json") from None


def _now(request: web.Request) -> datetime:
    return request.config_dict[RESOURCES].clock.now()


def parse_time(text: str) -> datetime:
    """An ISO time; without an offset it is Asia/Shanghai's."""
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=SHANGHAI)


async def campaigns_view(request: web.Request) -> web.Response:
    def run() -> list[dict[str, object]]:
        return [campaign_result(c.name).as_dict() for c in list_campaigns()]

    return web.json_response({"campaigns": await run_blocking(request.config_dict, run)}, dumps=dumps)


_OPTIONAL = {"channel": str, "coupon": str, "url": str, "per_minute": int, "attribution_days": int}


def _options(body: dict[str, Any], default_days: int) -> CampaignOptions:
    problems = [f"{k}: expected {t.__name__}" for k, t in _OPTIONAL.items()
                if k in body and (not isinstance(body[k], t) or isinstance(body[k], bool))]  # fmt: skip
    if problems:
        raise CampaignError("; ".join(problems))
    return CampaignOptions(
        channel=body.get("channel", "both"), coupon=body.get("coupon") or None, url=body.get("url", ""),
        per_minute=body.get("per_minute", 0), attribution_days=body.get("attribution_days", default_days),
    )  # fmt: skip


async def create_view(request: web.Request) -> web.Response:
    body = await _body(request)
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("name", "segment")):
        return error(422, "expected name, segment, subject and detail")
    now = _now(request)
    try:
        options = _options(body, request.config_dict[CONFIG].marketing.attribution_days)
        starts_at = parse_time(body["starts_at"]) if body.get("starts_at") else None
        fields = {k: body.get(k) or "" for k in ("subject", "detail")}
        await run_blocking(request.config_dict, create_campaign, body["name"], body["segment"], fields, now, options)
        if starts_at is not None:
            await run_blocking(request.config_dict, schedule_campaign, body["name"], starts_at, now)
    except TemplateLintError as exc:
        return error(422, "the campaign's fields have problems", problems=exc.problems)
    except (TypeError, ValueError) as exc:  # CampaignError, a bad time
        return error(409 if "exists" in str(exc) else 422, str(exc))
    result = await run_blocking(request.config_dict, campaign_result, body["name"])
    return web.json_response(result.as_dict(), status=201, dumps=dumps)


async def campaign_view(request: web.Request) -> web.Response:
    try:
        result = await run_blocking(request.config_dict, campaign_result, request.match_info["name"])
    except CampaignError as exc:
        return error(404, str(exc))
    return web.json_response(result.as_dict(), dumps=dumps)


async def dry_run_view(request: web.Request) -> web.Response:
    try:
        plan = await run_blocking(request.config_dict, dry_run, request.match_info["name"], _now(request))
    except CampaignError as exc:
        return error(404, str(exc))
    return web.json_response({"dry_run": True, **plan})


async def start_view(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = await _body(request, required=False)
    now = _now(request)
    queued = 0
    try:
        if isinstance(body, dict) and body.get("at"):
            await run_blocking(request.config_dict, schedule_campaign, name, parse_time(str(body["at"])), now)
        else:
            queued = await run_blocking(request.config_dict, start_campaign, name, now)
    except CampaignError as exc:
        return error(404 if str(exc).startswith("no campaign") else 409, str(exc))
    except ValueError as exc:
        return error(422, f"at: {exc}")
    result = await run_blocking(request.config_dict, campaign_result, name)
    return web.json_response({**result.as_dict(), "queued_now": queued}, dumps=dumps)


async def cancel_view(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    try:
        done = await run_blocking(request.config_dict, cancel_campaign, name, _now(request))
    except CampaignError as exc:
        return error(404, str(exc))
    result = await run_blocking(request.config_dict, campaign_result, name)
    return web.json_response({**result.as_dict(), **done}, dumps=dumps)
