"""After-sales tickets in the admin API (auth and errors from the admin sub-app, bot.admin.app):

* `GET /admin/api/after-sales?status=&kind=&openid=&before_id=&limit=` — newest first, paged by id, each with
  `overdue`; `GET /admin/api/after-sales/stats?days=7` — tickets per kind, complaints, complaint rate
  (complaints / orders paid), SLA breaches; `GET /admin/api/after-sales/{case_no}` — one ticket with its photos.
* `POST /admin/api/after-sales/{case_no}/approve` — body `{"amount_fen": int (returns, refunds, complaints;
  default all that is left), "note": str}`. Returns and refunds go through the checkout's refund path at once
  (`request_refund` with the case number as refund number, then `submit_refund` to WeChat Pay; the refund sweep
  retries what WeChat could not take now); the ticket closes when the refund settles. Repeating it is harmless.
* `POST /admin/api/after-sales/{case_no}/refuse` — body `{"reason": str}` (told to the buyer).

Errors: 404 no such ticket, 409 already decided or the refund is impossible, 400 malformed input.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.admin.params import page_size, query_int
from bot.pay.client import SHOP_RULES, ensure_pay_client, ensure_shop_rules
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from store.after_sales.tickets import (
    KIND_LABELS,
    REFUNDING,
    STATUS_LABELS,
    AfterSalesError,
    AfterSalesRules,
    TicketNotFound,
    after_sales_stats,
    approve,
    get_ticket,
    list_tickets,
    refuse,
    settle_refunds,
    ticket_dict,
)
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
    admin.router.add_get("/api/after-sales/{case_no}", detail_view)
    admin.router.add_post("/api/after-sales/{case_no}/approve", approve_view)
    admin.router.add_post("/api/after-sales/{case_no}/refuse", refuse_view)


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


async def detail_view(request: web.Request) -> web.Response:
    try:
        ticket = await run_blocking(request.config_dict, get_ticket, request.match_info["case_no"])
    except TicketNotFound as exc:
        return error(404, str(exc))
    return web.json_response(ticket_dict(ticket, request.config_dict[RESOURCES].clock.now()), dumps=dumps)


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
    now = app[RESOURCES].clock.now()
    try:
        ticket = await run_blocking(app, partial(approve, request.match_info["case_no"], now, app[RULES],
                                                 amount_fen=amount, note=note))  # fmt: skip
    except TicketNotFound as exc:
        return error(404, str(exc))
    except AfterSalesError as exc:
        return error(409, str(exc))
    if ticket.status == REFUNDING and ticket.refund_no:
        pay, members = ensure_pay_client(app), app[SHOP_RULES].members
        await run_blocking(app, submit_refund, ticket.refund_no, pay, now, members)
        await run_blocking(app, settle_refunds, now, app[RULES])
        ticket = await run_blocking(app, get_ticket, ticket.case_no)
    return web.json_response(ticket_dict(ticket, now), dumps=dumps)


async def refuse_view(request: web.Request) -> web.Response:
    app = request.config_dict
    body = await _body(request)
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        return error(400, "reason (a string for the buyer) is required")
    now = app[RESOURCES].clock.now()
    try:
        ticket = await run_blocking(app, refuse, request.match_info["case_no"], reason, now, app[RULES])
    except TicketNotFound as exc:
        return error(404, str(exc))
    except AfterSalesError as exc:
        return error(409, str(exc))
    return web.json_response(ticket_dict(ticket, now), dumps=dumps)
