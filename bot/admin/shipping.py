"""Shipping and tracking in the admin API, and the tracking push
endpoint (`bot.logistics.notify`):

* `POST /admin/api/orders/{order_no}/ship` — body `{"carrier": "yuantong", "tracking_no": "YT1234567890"}`:
  201 with the shipment (the buyer's `shipped` notice is queued with it), 200 when this very parcel was recorded
  before, 404 for no such order, 409 when the order cannot ship (not paid, virtual, another parcel), 400 for a
  malformed carrier or number. The parcel is subscribed with the provider by the `subscribe_parcels` job, queued
  here (the minute sweep subscribes it anyway if queueing fails).
* `GET /admin/api/orders/{order_no}/tracking` — the shipment with its stored trace, newest first.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.jobs.queue import JOBS
from bot.web.runtime import RESOURCES, run_blocking
from scheduler.logistics_jobs import subscribe_job_id
from store.logistics.shipments import (
    InvalidParcel,
    OrderNotFound,
    ShippingError,
    ship_order,
    shipment_dict,
    shipment_of,
)


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_post("/api/orders/{order_no}/ship", ship_view)
    admin.router.add_get("/api/orders/{order_no}/tracking", tracking_view)


def _ship_input(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    carrier, number = body.get("carrier"), body.get("tracking_no")
    if not isinstance(carrier, str) or not isinstance(number, str):
        raise ValueError('carrier and tracking_no are required strings: {"carrier": "yuantong", "tracking_no": …}')
    return carrier, number


async def ship_view(request: web.Request) -> web.Response:
    app = request.config_dict
    order_no = request.match_info["order_no"]
    try:
        carrier, number = _ship_input(await request.json())
    except (ValueError, UnicodeDecodeError) as exc:
        return error(400, str(exc) if isinstance(exc, ValueError) and str(exc) else "body is not JSON")
    try:
        shipped = await run_blocking(app, ship_order, order_no, carrier, number, app[RESOURCES].clock.now())
    except InvalidParcel as exc:
        return error(400, str(exc))
    except OrderNotFound as exc:
        return error(404, str(exc))
    except ShippingError as exc:
        return error(409, str(exc))
    jobs = app.get(JOBS)
    if shipped.created and jobs is not None:
        await jobs.enqueue("subscribe_parcels", order_no, _job_id=subscribe_job_id(order_no))
    return web.json_response(shipment_dict(shipped.shipment), status=201 if shipped.created else 200, dumps=dumps)


async def tracking_view(request: web.Request) -> web.Response:
    shipment = await run_blocking(request.config_dict, shipment_of, request.match_info["order_no"])
    if shipment is None:
        return error(404, "this order has no shipment")
    return web.json_response(shipment_dict(shipment, with_trace=True), dumps=dumps)
