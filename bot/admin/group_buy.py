"""拼团 in the admin API.

* `PUT /admin/api/group-offers/{sku_code}` — body `{"price_fen": int, "size": int, "window_hours": int,
  "limit_per_follower": int, "active": bool}`; only `price_fen` is required (size and window default to
  `[marketing] group_size` / `group_window_hours`, the limit to 1; 0 = no limit). 200 with the offer; 404 for an
  unknown SKU; 422 listing every problem. Groups already opened keep the terms they were opened with.
* `GET /admin/api/group-offers` — every offer.
* `GET /admin/api/groups?status=open&limit=100` — groups, newest first, with their places and payments.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.admin.params import int_field, json_object, query_int
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from store.catalog.products import Sku
from store.group_buy.models import Group, GroupOffer
from store.group_buy.operations import OfferInput, set_offer


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_put("/api/group-offers/{sku_code}", put_offer_view)
    admin.router.add_get("/api/group-offers", offers_view)
    admin.router.add_get("/api/groups", groups_view)


def _offer_json(offer: GroupOffer) -> dict[str, Any]:
    sku = Sku.get_or_none(Sku.id == offer.sku_id)
    return {"sku_code": sku.code if sku else None, "size": offer.size, "window_hours": offer.window_hours,
            "price_fen": offer.price_fen, "limit_per_follower": offer.limit_per_follower, "active": offer.active,
            "updated_at": offer.updated_at}  # fmt: skip


async def put_offer_view(request: web.Request) -> web.Response:
    app = request.config_dict
    body = await json_object(request)
    sku = await run_blocking(app, Sku.get_or_none, Sku.code == request.match_info["sku_code"])
    if sku is None:
        return error(404, "no such SKU")
    marketing = app[CONFIG].marketing
    problems: list[str] = []
    wanted = OfferInput(
        sku.id, size=int_field(body, "size", marketing.group_size, problems),
        window_hours=int_field(body, "window_hours", marketing.group_window_hours, problems),
        price_fen=int_field(body, "price_fen", None, problems),
        limit_per_follower=int_field(body, "limit_per_follower", 1, problems), active=body.get("active", True) is True,
    )  # fmt: skip
    problems += wanted.problems()
    if problems:
        return error(422, "the offer has problems", problems=problems)
    offer = await run_blocking(app, set_offer, wanted, app[RESOURCES].clock.now())
    return web.json_response(await run_blocking(app, _offer_json, offer), dumps=dumps)


async def offers_view(request: web.Request) -> web.Response:
    def load() -> list[dict[str, Any]]:
        return [_offer_json(o) for o in GroupOffer.select().order_by(GroupOffer.id)]

    return web.json_response({"offers": await run_blocking(request.config_dict, load)}, dumps=dumps)


async def groups_view(request: web.Request) -> web.Response:
    status = request.query.get("status")
    limit = query_int(request.query, "limit", 100, low=1, high=1000)

    def load() -> list[dict[str, Any]]:
        query = Group.select().order_by(Group.id.desc()).limit(limit)
        if status:
            query = query.where(Group.status == status)
        return [{"group_no": g.group_no, "status": g.status, "sku_id": g.sku_id, "leader": g.leader_openid,
                 "size": g.size, "seats": g.seats, "paid": g.paid, "price_fen": g.price_fen,
                 "created_at": g.created_at, "expires_at": g.expires_at, "closed_at": g.closed_at}
                for g in query]  # fmt: skip

    return web.json_response({"groups": await run_blocking(request.config_dict, load)}, dumps=dumps)
