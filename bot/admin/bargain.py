"""砍价 in the admin API.

* `PUT /admin/api/bargain-offers/{sku_code}` — body `{"floor_fen": int, "helpers": int, "window_hours": int,
  "limit_per_follower": int, "active": bool}`; only `floor_fen` is required (helpers and window default to
  `[marketing] bargain_helpers` / `bargain_window_hours`, the limit to 1; 0 = no limit). 200 with the offer; 404
  for an unknown SKU; 422 listing every problem (the floor must leave at least 1 fen per helper below the SKU's
  price). Bargains already started keep the terms they started with.
* `GET /admin/api/bargain-offers` — every offer.
* `GET /admin/api/bargains?status=open&limit=100` — bargains, newest first, with their price and cuts.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.admin.params import int_field, json_object, query_int
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from store.bargain.models import Bargain, BargainOffer
from store.bargain.operations import OfferInput, set_offer
from store.catalog.products import Sku


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_put("/api/bargain-offers/{sku_code}", put_offer_view)
    admin.router.add_get("/api/bargain-offers", offers_view)
    admin.router.add_get("/api/bargains", bargains_view)


def _offer_json(offer: BargainOffer) -> dict[str, Any]:
    sku = Sku.get_or_none(Sku.id == offer.sku_id)
    return {"sku_code": sku.code if sku else None, "price_fen": sku.price_fen if sku else None,
            "floor_fen": offer.floor_fen, "helpers": offer.helpers, "window_hours": offer.window_hours,
            "limit_per_follower": offer.limit_per_follower, "active": offer.active,
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
        sku.id, floor_fen=int_field(body, "floor_fen", None, problems),
        helpers=int_field(body, "helpers", marketing.bargain_helpers, problems),
        window_hours=int_field(body, "window_hours", marketing.bargain_window_hours, problems),
        limit_per_follower=int_field(body, "limit_per_follower", 1, problems),
        active=body.get("active", True) is True,
    )  # fmt: skip
    if not problems:
        problems += wanted.problems(sku.price_fen)
    if problems:
        return error(422, "the offer has problems", problems=problems)
    offer = await run_blocking(app, set_offer, wanted, app[RESOURCES].clock.now())
    return web.json_response(await run_blocking(app, _offer_json, offer), dumps=dumps)


async def offers_view(request: web.Request) -> web.Response:
    def load() -> list[dict[str, Any]]:
        return [_offer_json(o) for o in BargainOffer.select().order_by(BargainOffer.id)]

    return web.json_response({"offers": await run_blocking(request.config_dict, load)}, dumps=dumps)


async def bargains_view(request: web.Request) -> web.Response:
    status = request.query.get("status")
    limit = query_int(request.query, "limit", 100, low=1, high=1000)

    def load() -> list[dict[str, Any]]:
        query = Bargain.select().order_by(Bargain.id.desc()).limit(limit)
        if status:
            query = query.where(Bargain.status == status)
        return [{"bargain_no": b.bargain_no, "status": b.status, "sku_id": b.sku_id, "starter": b.starter_openid,
                 "start_fen": b.start_fen, "price_fen": b.price_fen, "floor_fen": b.floor_fen,
                 "helpers": b.helpers, "cuts": b.cuts, "order_no": b.order_no, "created_at": b.created_at,
                 "expires_at": b.expires_at, "completed_at": b.completed_at}
                for b in query]  # fmt: skip

    return web.json_response({"bargains": await run_blocking(request.config_dict, load)}, dumps=dumps)
