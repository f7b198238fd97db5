"""After-sales tickets in the admin API (auth and errors from the admin sub-app, bot.admin.app):

* `GET /admin/api/after-sales?status=&kind=&openid=&before_id=&limit=` — newest first, paged by id, each with
  `overdue`; `GET /admin/api/after-sales/stats?days=7` — tickets per kind, complaints, complaint rate
  (complaints / orders paid), SLA breaches; `GET /admin/api/after-sales/kpi?days=7[&format=csv]` — the service KPI
  per operator (response time, SLA hit rate, average rating: store.after_sales.kpi), as JSON or a CSV download;
  `GET /admin/api/after-sales/{case_no}` — one ticket with its photos, compensation and reshipment.
* `POST /admin/api/after-sales/{case_no}/approve` — body `{"amount_fen": int (returns, refunds, complaints;
  default all that is left), "note": str}`. Returns and refunds go through the checkout's refund path at once
  (`request_refund` with the case number as refund number, then `submit_refund` to WeChat Pay; the refund sweep
  retries what WeChat could not take now); the ticket closes when the refund settles. Repeating it is harmless.
* `POST /admin/api/after-sales/{case_no}/refuse` — body `{"reason": str}` (told to the buyer).
* `POST /admin/api/after-sales/{case_no}/compensate` — body `{"method"?: "points"|"coupon"|"refund"|"transfer",
  "amount_fen"?: int, "note"?: str}`, defaults from `[after_sales]` for the ticket's kind: 201 the compensation
  (the buyer told; a refund submitted to WeChat Pay at once), 409 when the ticket was compensated already or the
  payout is impossible (more than the order has left, over `compensation_max_fen`, no coupon configured).
* `POST /admin/api/after-sales/{case_no}/ship` — body `{"carrier", "tracking_no"}`: the replacement of an approved
  exchange goes out (201 the shipment, 200 when this very parcel was recorded before; 409 when the ticket is not
  waiting for a reshipment or another parcel was recorded); the parcel is subscribed like any other.

Approve, refuse and compensate take `"operator"` (who handled it, for the service KPI); by default the console
user's name, or `api-token`. Errors: 404 no such ticket, 409 already decided or the refund is impossible, 400
malformed input.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.admin.params import page_size, query_int
from bot.admin.sessions import request_session
from bot.jobs.queue import JOBS
from bot.pay.client import SHOP_RULES, ensure_pay_client, ensure_shop_rules
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from scheduler.logistics_jobs import subscribe_job_id
from store.after_sales.compensation import REFUNDING as COMPENSATION_REFUNDING
from store.after_sales.compensation import (
    AlreadyCompensated,
    compensation_dict,
    compensation_of,
    settle_compensation_refunds,
)
from store.after_sales.kpi import kpi_csv, service_kpi
from store.after_sales.reshipments import reshipment_of, ship_reshipment
from store.after_sales.tickets import (
    KIND_LABELS,
    REFUNDING,
    STATUS_LABELS,
    AfterSalesError,
    AfterSalesRules,
    Ticket,
    TicketNotFound,
    after_sales_stats,
    approve,
    compensate,
    get_ticket,
    list_tickets,
    refuse,
    settle_refunds,
    ticket_dict,
)
from store.logistics.shipments import InvalidParcel, ShippingError, shipment_dict
from store.orders.refunds import submit_refund

MAX_PAGE = 200
RULES = web.AppKey("after_sales_rules", AfterSalesRules)


def setup(app: web.Application, admin: web.Application) -> None:
    ensure_pay_client(app)
    ensure_shop_rules(app)
    config = app[CONFIG]
    app[RULES] = AfterSalesRules.from_settings(config.after_sales, config.shop)
    admin.router.add_get("/api/after-sales", list_view)
    admin.router.add_get("/api/after-sales/stats", stats_view)
    admin.router.add_get("/api/after-sales/kpi", kpi_view)
    admin.router.add_get("/api/after-sales/{case_no}", detail_view)
    admin.router.add_post("/api/after-sales/{case_no}/approve", approve_view)
    admin.router.add_post("/api/after-sales/{case_no}/refuse", refuse_view)
    admin.router.add_post("/api/after-sales/{case_no}/compensate", compensate_view)
    admin.router.add_post("/api/after-sales/{case_no}/ship", ship_view)


async def list_view(request: web.Request) -> web.Response:
    query = request.query
    status, kind = query.get("status") or None, query.get("kind") or None
    if status is not None and status not in STATUS_LABELS:
        return error(400, f"unknown status {status!r}", known=sorted(STATUS_LABELS))
    if kind is not None and kind not in KIND_LABELS:
        return error(400, f"unknown kind {kind!r}", known=sorted(KIND_LABELS))
    limit = page_size(query, "limit", 50, MAX_PAGE)
    tickets = await run_blocking(
        request.config_dict, list_tickets, status=status, kind=kind, openid=query.get("openid") or None,
        before_id=query_int(query, "before_id", 0) or None, limit=limit,
    )  # fmt: skip
    now = request.config_dict[RESOURCES].clock.now()
    next_before = tickets[-1].id if len(tickets) == limit else None
    return web.json_response({"tickets": [ticket_dict(t, now) for t in tickets], "next_before_id": next_before},
                             dumps=dumps)  # fmt: skip


async def stats_view(request: web.Request) -> web.Response:
    days = query_int(request.query, "days", 7, high=3660)
    if not 1 <= days <= 366:
        return error(400, "days must be 1..366")
    stats = await run_blocking(request.config_dict, after_sales_stats, request.config_dict[RESOURCES].clock.now(), days)
    return web.json_response(stats, dumps=dumps)


def _detail(case_no: str) -> tuple[Ticket, dict[str, Any] | None, dict[str, Any] | None]:
    compensation, parcel = compensation_of(case_no), reshipment_of(case_no)
    return (get_ticket(case_no), compensation_dict(compensation) if compensation else None,
            shipment_dict(parcel) if parcel else None)  # fmt: skip


async def kpi_view(request: web.Request) -> web.Response:
    days = query_int(request.query, "days", 7, high=3660)
    if not 1 <= days <= 366:
        return error(400, "days must be 1..366")
    kpi = await run_blocking(request.config_dict, service_kpi, request.config_dict[RESOURCES].clock.now(), days)
    if request.query.get("format") == "csv":
        name = f"after-sales-kpi-{kpi['until'][:10]}.csv"
        return web.Response(text=kpi_csv(kpi), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
    return web.json_response(kpi, dumps=dumps)


async def detail_view(request: web.Request) -> web.Response:
    """One ticket with its photos, its compensation and its reshipment (each null when none)."""
    try:
        ticket, compensation, parcel = await run_blocking(request.config_dict, _detail, request.match_info["case_no"])
    except TicketNotFound as exc:
        return error(404, str(exc))
    out = ticket_dict(ticket, request.config_dict[RESOURCES].clock.now())
    return web.json_response({**out, "compensation": compensation, "reshipment": parcel}, dumps=dumps)


async def _operator(request: web.Request, body: dict[str, Any]) -> str:
    """Who handled it: the body's `operator`, else the console user's name, else `api-token`."""
    named = body.get("operator")
    if isinstance(named, str) and named.strip():
        return named.strip()[:64]
    if not request.headers.get("Authorization"):
        session = await request_session(request)
        if session is not None:
            return session.username
    return "api-token"


async def _submit(app: web.Application, refund_no: str, now: Any) -> None:
    """Send a requested refund to WeChat Pay now (the refund sweep retries what it could not take), then settle
    what WeChat answered at once."""
    pay, members = ensure_pay_client(app), app[SHOP_RULES].members
    await run_blocking(app, submit_refund, refund_no, pay, now, members)
    await run_blocking(app, settle_refunds, now, app[RULES])
    await run_blocking(app, settle_compensation_refunds, now, app[RULES].operators)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=dumps({"error": "body is not JSON"}), content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=dumps({"error": "body must be a JSON object"}), content_type="application/json")
    return body


async def approve_view(request: web.Request) -> web.Response:
    app = request.config_dict
    body = await _body(request)
    amount, note = body.get("amount_fen"), body.get("note", "")
    if (amount is not None and (not isinstance(amount, int) or isinstance(amount, bool))) or not isinstance(note, str):
        return error(400, "amount_fen must be an integer (fen) and note a string")
    now, by = app[RESOURCES].clock.now(), await _operator(request, body)
    try:
        ticket = await run_blocking(app, partial(approve, request.match_info["case_no"], now, app[RULES],
                                                 amount_fen=amount, note=note, by=by))  # fmt: skip
    except TicketNotFound as exc:
        return error(404, str(exc))
    except AfterSalesError as exc:
        return error(409, str(exc))
    if ticket.status == REFUNDING and ticket.refund_no:
        await _submit(app, ticket.refund_no, now)
    compensation = await run_blocking(app, compensation_of, ticket.case_no)
    own_refund = compensation is not None and compensation.refund_no not in (None, ticket.refund_no)
    if own_refund and compensation.status == COMPENSATION_REFUNDING:  # a goodwill refund, not the goods' refund
        await _submit(app, compensation.refund_no, now)
    ticket = await run_blocking(app, get_ticket, ticket.case_no)
    return web.json_response(ticket_dict(ticket, now), dumps=dumps)


async def refuse_view(request: web.Request) -> web.Response:
    app = request.config_dict
    body = await _body(request)
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        return error(400, "reason (a string for the buyer) is required")
    now, by = app[RESOURCES].clock.now(), await _operator(request, body)
    try:
        ticket = await run_blocking(app, partial(refuse, request.match_info["case_no"], reason, now, app[RULES],
                                                 by=by))  # fmt: skip
    except TicketNotFound as exc:
        return error(404, str(exc))
    except AfterSalesError as exc:
        return error(409, str(exc))
    return web.json_response(ticket_dict(ticket, now), dumps=dumps)


async def compensate_view(request: web.Request) -> web.Response:
    app = request.config_dict
    body = await _body(request)
    method, amount, note = body.get("method"), body.get("amount_fen"), body.get("note", "")
    if method is not None and not isinstance(method, str):
        return error(400, "method must be points, coupon, refund or transfer")
    if (amount is not None and (not isinstance(amount, int) or isinstance(amount, bool))) or not isinstance(note, str):
        return error(400, "amount_fen must be an integer (fen) and note a string")
    now, by = app[RESOURCES].clock.now(), await _operator(request, body)
    try:
        granted = await run_blocking(app, partial(compensate, request.match_info["case_no"], now, app[RULES],
                                                  method=method, amount_fen=amount, note=note, by=by))  # fmt: skip
    except TicketNotFound as exc:
        return error(404, str(exc))
    except (AfterSalesError, AlreadyCompensated) as exc:
        return error(409, str(exc))
    if granted.status == COMPENSATION_REFUNDING and granted.refund_no:
        await _submit(app, granted.refund_no, now)
        granted = await run_blocking(app, compensation_of, granted.case_no)
    return web.json_response(compensation_dict(granted), status=201, dumps=dumps)


async def ship_view(request: web.Request) -> web.Response:
    app = request.config_dict
    body = await _body(request)
    carrier, number = body.get("carrier"), body.get("tracking_no")
    if not isinstance(carrier, str) or not isinstance(number, str):
        return error(400, 'carrier and tracking_no are required strings: {"carrier": "yuantong", "tracking_no": …}')
    case_no = request.match_info["case_no"]
    try:
        shipped = await run_blocking(app, ship_reshipment, case_no, carrier, number, app[RESOURCES].clock.now())
    except InvalidParcel as exc:
        return error(400, str(exc))
    except TicketNotFound as exc:
        return error(404, str(exc))
    except ShippingError as exc:
        return error(409, str(exc))
    jobs = app.get(JOBS)
    if shipped.created and jobs is not None:
        await jobs.enqueue("subscribe_parcels", case_no, _job_id=subscribe_job_id(case_no))
    return web.json_response(shipment_dict(shipped.shipment), status=201 if shipped.created else 200, dumps=dumps)
