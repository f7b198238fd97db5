"""Coupon templates in the admin API, for the console's coupons page (auth and errors from the admin sub-app).

At start-up the `[[coupons]]` templates of the config are created when missing (an existing one is left as it is).

* `GET /admin/api/coupon-templates` — every template, newest first, with its coupons counted: `issued`,
  `available`, `locked` (held by an unpaid order), `used`, `expired`, `use_rate` (used / issued).
* `POST /admin/api/coupon-templates` — body `{"code", "kind": "fixed" | "percent" | "threshold", "value",
  "threshold_fen", "valid_days", "title", "stock"}` (value: fen off, or the percentage paid for `percent`;
  stock: how many coupons it may give out, left out for no limit): 201 with the template; 409 when the code is
  taken; 422 listing every problem.
* `PATCH /admin/api/coupon-templates/{code}` — body `{"active": true | false}`: a switched-off template issues no
  more coupons (those issued stay usable).
* `POST /admin/api/coupon-templates/{code}/issue` — body `{"openid"}`: give one follower one coupon (an
  operator's goodwill gesture); 201 with it; 404 for an unknown follower; 409 when the template is switched off
  or its stock is used up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from store.members.followers import Follower
from store.promotions.configured_templates import seed_configured_templates
from store.promotions.coupon_report import set_template_active, template_report
from store.promotions.coupons import (
    CouponsGone,
    TemplateExists,
    TemplateInvalid,
    UnknownTemplate,
    create_template,
    issue_coupon,
)

FIELDS = {"code": str, "kind": str, "value": int, "threshold_fen": int, "valid_days": int, "title": str, "stock": int}
ISSUED_BY_OPERATOR = "operator"
log = logging.getLogger("wxshop.admin.coupons")


def setup(app: web.Application, admin: web.Application) -> None:
    app.cleanup_ctx.append(_seed_configured)
    admin.router.add_get("/api/coupon-templates", list_view)
    admin.router.add_post("/api/coupon-templates", create_view)
    admin.router.add_patch("/api/coupon-templates/{code}", active_view)
    admin.router.add_post("/api/coupon-templates/{code}/issue", issue_view)


async def _seed_configured(app: web.Application) -> AsyncIterator[None]:
    """At start-up: the `[[coupons]]` templates of the config that the store does not have yet."""
    created = await run_blocking(app, seed_configured_templates, app[CONFIG].coupons, app[RESOURCES].clock.now())
    if created:
        log.info("coupon templates created from config", extra={"codes": created})
    yield


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text='{"error": "body is not JSON"}', content_type="application/json") from None


async def list_view(request: web.Request) -> web.Response:
    now = request.config_dict[RESOURCES].clock.now()
    reports = await run_blocking(request.config_dict, template_report, now)
    return web.json_response({"templates": [r.as_dict() for r in reports]}, dumps=dumps)


def _fields(body: Any) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(body, dict):
        return {}, ["the body must be a JSON object"]
    problems = [f"{key}: unknown field" for key in sorted(set(body) - set(FIELDS))]
    fields: dict[str, Any] = {"threshold_fen": 0, "valid_days": 30, "title": "", "stock": None}
    for key, kind in FIELDS.items():
        if key not in body:
            if key not in fields:
                problems.append(f"{key}: missing")
            continue
        value = body[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            problems.append(f"{key}: expected {'a whole number' if kind is int else 'text'}")
        else:
            fields[key] = value.strip() if isinstance(value, str) else value
    return fields, problems


async def create_view(request: web.Request) -> web.Response:
    fields, problems = _fields(await _json(request))
    if problems:
        return error(422, "the coupon template has problems", problems=problems)
    app = request.config_dict
    now = app[RESOURCES].clock.now()
    code, kind, value = fields.pop("code"), fields.pop("kind"), fields.pop("value")
    try:
        await run_blocking(app, lambda: create_template(code, kind, value, now, **fields))
    except TemplateInvalid as exc:
        return error(422, "the coupon template has problems", problems=exc.problems)
    except TemplateExists as exc:
        return error(409, str(exc))
    [report] = [r for r in await run_blocking(app, template_report, now) if r.code == code]
    return web.json_response(report.as_dict(), status=201, dumps=dumps)


async def active_view(request: web.Request) -> web.Response:
    body = await _json(request)
    if not isinstance(body, dict) or set(body) != {"active"} or not isinstance(body["active"], bool):
        return error(422, "the change has problems", problems=['the body must be {"active": true | false}'])
    code = request.match_info["code"]
    if not await run_blocking(request.config_dict, set_template_active, code, body["active"]):
        return error(404, "no such coupon template")
    return web.json_response({"code": code, "active": body["active"]})


def _issue(code: str, openid: str, now: Any) -> dict[str, Any] | None:
    if not Follower.select().where(Follower.openid == openid).exists():
        return None
    coupon = issue_coupon(openid, code, now, source=ISSUED_BY_OPERATOR)
    return {"code": coupon.code, "template": code, "openid": openid, "expires_at": coupon.expires_at}


async def issue_view(request: web.Request) -> web.Response:
    body = await _json(request)
    openid = body.get("openid") if isinstance(body, dict) else None
    if not isinstance(openid, str) or not openid.strip():
        return error(422, "the coupon was not issued", problems=['the body must be {"openid": str}'])
    app = request.config_dict
    try:
        issued = await run_blocking(app, _issue, request.match_info["code"], openid.strip(),
                                    app[RESOURCES].clock.now())  # fmt: skip
    except UnknownTemplate:
        return error(409, "no active coupon template with that code")
    except CouponsGone:
        return error(409, "the coupon template has no coupons left")
    if issued is None:
        return error(404, "no such follower")
    return web.json_response(issued, status=201, dumps=dumps)
