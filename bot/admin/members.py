"""Members in the admin API, and the members side's start-up check.

* `POST /admin/api/qrcodes` — body `{"purpose": "channel" | "referrer", "name": str, "referrer": openid (referrer
  codes), "scene": str (optional; generated), "expire_seconds": int (optional: a temporary code, 60..2592000)}`.
  Calls WeChat's qrcode/create and stores the code: 201 with it; 409 when the scene is taken; 422 listing every
  problem; 502 when WeChat refuses.
* `GET /admin/api/qrcodes` — every code with its funnel: followers attributed (first touch), still following,
  buyers, their net paid spend (`paid_fen`, for commission).
* `GET /admin/api/members/{openid}` — tier (live and as last notified), spends, points (and what expires within
  30 days), birthday, where they came from, the new-follower gift, coupons.
* `GET /admin/api/gifts?days=30` — the new-follower gift's figures: issued, claimed, expired, open, claim_rate
  (claimed / (claimed + expired unclaimed); claimed = a gift coupon used in a paid order).

At start-up the coupon templates named in `[shop] gift_coupons` / `birthday_coupon` are checked and the default
ones seeded (store.members.templates): a code that does not exist stops the server with one clear line.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import requests
from aiohttp import web
from wechatpy.exceptions import WeChatClientException

from bot.admin.api import dumps, error
from bot.admin.params import query_int
from bot.process.config import ConfigError
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from bot.wechat.gateway import WECHAT
from store.members.accounts import member, points_balance
from store.members.followers import Follower
from store.members.points_expiry import expiring_within
from store.members.qrcodes import QrCodeInvalid, SceneTaken, create_qrcode, image_url, parse_request, qrcode_report
from store.members.settings import MemberSettings
from store.members.templates import MemberTemplatesMissing, seed_templates
from store.members.tiers import standing
from store.promotions import gifts
from store.promotions.coupons import Coupon, CouponTemplate

MEMBER_SETTINGS = web.AppKey("member_settings", MemberSettings)


def member_settings(config: Any) -> MemberSettings:
    return MemberSettings.from_settings(config.shop, config.wechat.app_id)


def setup(app: web.Application, admin: web.Application) -> None:
    app[MEMBER_SETTINGS] = member_settings(app[CONFIG])
    app.cleanup_ctx.append(_check_templates)
    admin.router.add_post("/api/qrcodes", create_view)
    admin.router.add_get("/api/qrcodes", list_view)
    admin.router.add_get("/api/members/{openid}", member_view)
    admin.router.add_get("/api/gifts", gifts_view)


async def _check_templates(app: web.Application) -> AsyncIterator[None]:
    settings = app[MEMBER_SETTINGS]
    try:
        await run_blocking(app, seed_templates, settings.template_codes(), app[RESOURCES].clock.now())
    except MemberTemplatesMissing as exc:  # a config mistake: one line from the CLI, not a traceback
        raise ConfigError(f"config: {exc}") from None
    yield


async def create_view(request: web.Request) -> web.Response:
    app = request.config_dict
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "body is not JSON")
    try:
        wanted = await run_blocking(app, parse_request, body)
    except QrCodeInvalid as exc:
        return error(422, "the QR code request has problems", problems=exc.problems)
    now = app[RESOURCES].clock.now()
    try:
        code = await run_blocking(app, create_qrcode, wanted, app[WECHAT].create_qrcode, now)
    except SceneTaken:
        return error(409, f"scene {wanted.scene!r} is already used by another code")
    except (WeChatClientException, requests.RequestException) as exc:
        return error(502, f"WeChat refused qrcode/create: {exc}")
    body = {
        "scene": code.scene,
        "purpose": code.purpose,
        "name": code.name,
        "referrer": code.referrer_openid,
        "ticket": code.ticket,
        "url": code.url,
        "image_url": image_url(code.ticket),
        "permanent": code.expires_at is None,
        "expires_at": code.expires_at,
        "created_at": code.created_at,
    }
    return web.json_response(body, status=201, dumps=dumps)


async def list_view(request: web.Request) -> web.Response:
    return web.json_response({"qrcodes": await run_blocking(request.config_dict, qrcode_report)}, dumps=dumps)


def _member_detail(openid: str, settings: MemberSettings, now: Any) -> dict[str, Any] | None:
    row = member(openid)
    follower = Follower.get_or_none(Follower.openid == openid)
    if row is None and follower is None:
        return None
    mine = standing(openid, now, settings.rules)
    soon = expiring_within(openid, now, 30)
    grant = gifts.GiftGrant.get_or_none(
        gifts.GiftGrant.openid_digest == gifts.openid_digest(openid, settings.ledger_salt)
    )
    coupons = (
        Coupon.select(Coupon, CouponTemplate).join(CouponTemplate).where(Coupon.openid == openid).order_by(Coupon.id)
    )
    return {
        "openid": openid,
        "tier": mine.tier.value,
        "tier_label": mine.tier.label,
        "tier_notified": row.tier if row else None,
        "total_spend_fen": mine.total_fen,
        "annual_spend_fen": mine.annual_fen,
        "next_tier": mine.next_tier.value if mine.next_tier else None,
        "next_tier_missing_fen": mine.missing_fen,
        "points": points_balance(openid),
        "points_expiring_30d": soon.points,
        "points_expiring_from": soon.first_at,
        "birthday": follower.birthday if follower else None,
        "subscribed": bool(follower and follower.subscribed),
        "source_scene": follower.source_scene if follower else None,
        "gift": None
        if grant is None
        else {
            "issued_at": grant.issued_at,
            "expires_at": grant.expires_at,
            "reminded_at": grant.reminded_at,
            "claimed_at": grant.claimed_at,
            "expired_at": grant.expired_at,
        },
        "coupons": [
            {
                "code": c.code,
                "title": c.template.describe(),
                "status": c.status,
                "source": c.source,
                "issued_at": c.issued_at,
                "expires_at": c.expires_at,
            }
            for c in coupons
        ],
    }


async def member_view(request: web.Request) -> web.Response:
    app = request.config_dict
    detail = await run_blocking(
        app, _member_detail, request.match_info["openid"], app[MEMBER_SETTINGS], app[RESOURCES].clock.now()
    )
    if detail is None:
        return error(404, "no such member or follower")
    return web.json_response(detail, dumps=dumps)


async def gifts_view(request: web.Request) -> web.Response:
    app = request.config_dict
    days = query_int(request.query, "days", 30, high=3660)
    now = app[RESOURCES].clock.now()
    since = now - timedelta(days=days) if days > 0 else None
    stats = await run_blocking(app, gifts.gift_stats, now, since)
    return web.json_response({"days": days if days > 0 else None, **stats.as_dict()}, dumps=dumps)
