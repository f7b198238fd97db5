"""Orders in the admin API (auth and errors from the admin sub-app, bot.admin.app):

* `GET /admin/api/orders?status=&openid=&before_id=&limit=` — newest first, paged by id (`next_before_id`).
* `GET /admin/api/orders/{order_no}` — the order with lines, pricing explanation, payments and refunds.
* `POST /admin/api/orders/{order_no}/refund` — body `{"amount_fen": int (default: all that is left),
  "reason": str, "refund_no": str (optional idempotency key), "restock": {"<line id>": qty} (optional)}`.
  The refund is recorded, then submitted to WeChat Pay at once; 201 with its state (`succeeded`,
  `submitted` while WeChat processes it, `pending` if WeChat could not be reached — the sweep retries —
  or `failed` with WeChat's reason). Repeating a `refund_no` returns that refund (200) and refunds nothing more.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.admin.params import page_size, query_int
from bot.pay.client import SHOP_RULES, ensure_pay_client, ensure_shop_rules
from bot.web.runtime import RESOURCES, run_blocking
from store.orders.checkout import STATUS_LABELS, get_order
from store.orders.payments import Refund
from store.orders.refunds import RefundError, committed_refunds, request_refund, submit_refund
from store.orders.views import detail_dict, list_orders, order_detail, order_dict, refund_dict

MAX_PAGE = 200


def setup(app: web.Application, admin: web.Application) -> None:
    ensure_pay_client(app)
    ensure_shop_rules(app)
    admin.router.add_get("/api/orders", list_view)
    admin.router.add_get("/api/orders/{order_no}", detail_view)
    admin.router.add_post("/api/orders/{order_no}/refund", refund_view)


async def list_view(request: web.Request) -> web.Response:
    query = request.query
    status = query.get("status") or None
    if status is not None and status not in STATUS_LABELS:
        return error(400, f"unknown status {status!r}", known=sorted(STATUS_LABELS))
    limit = page_size(query, "limit", 50, MAX_PAGE)
    orders = await run_blocking(
        request.config_dict, list_orders, status=status, openid=query.get("openid") or None,
        before_id=query_int(query, "before_id", 0) or None, limit=limit,
    )  # fmt: skip
    next_before = orders[-1].id if len(orders) == limit else None
    return web.json_response({"orders": [order_dict(o) for o in orders], "next_before_id": next_before},
                             dumps=dumps)  # fmt: skip


async def detail_view(request: web.Request) -> web.Response:
    detail = await run_blocking(request.config_dict, order_detail, request.match_info["order_no"], None)
    if detail is None:
        return error(404, "no such order")
    return web.json_response(detail_dict(detail), dumps=dumps)


def _refund_input(body: Any) -> tuple[int | None, str, str | None, dict[int, int] | None]:
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    amount = body.get("amount_fen")
    if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0):
        raise ValueError("amount_fen must be a positive integer (fen)")
    reason = body.get("reason", "")
    refund_no = body.get("refund_no")
    if not isinstance(reason, str) or (refund_no is not None and not isinstance(refund_no, str)):
        raise ValueError("reason and refund_no must be strings")
    if refund_no is not None and not 1 <= len(refund_no) <= 64:
        raise ValueError("refund_no must be 1..64 characters")
    restock = body.get("restock")
    if restock is not None:
        if not isinstance(restock, dict) or not all(isinstance(v, int) for v in restock.values()):
            raise ValueError('restock must map line ids to quantities: {"12": 1}')
        try:
            restock = {int(k): v for k, v in restock.items()}
        except ValueError:
            raise ValueError("restock keys must be order line ids") from None
    return amount, reason, refund_no, restock


async def refund_view(request: web.Request) -> web.Response:
    app = request.config_dict
    order_no = request.match_info["order_no"]
    try:
        amount, reason, refund_no, restock = _refund_input(await request.json())
    except ValueError as exc:
        return error(400, str(exc))
    order = await run_blocking(app, get_order, order_no)
    if order is None:
        return error(404, "no such order")
    existed = bool(refund_no) and await run_blocking(app, Refund.get_or_none, Refund.refund_no == refund_no)
    if amount is None:
        amount = order.payable_fen - await run_blocking(app, committed_refunds, order_no)
        if amount <= 0:
            return error(409, "this order is refunded in full already")
    now = app[RESOURCES].clock.now()
    try:
        refund = await run_blocking(app, request_refund, order_no, amount, reason or "商家退款", now,
                                    refund_no=refund_no, restock=restock)  # fmt: skip
    except RefundError as exc:  # RefundConflict included
        return error(409, str(exc))
    pay, rules = ensure_pay_client(app), app[SHOP_RULES].members
    refund = await run_blocking(app, submit_refund, refund.refund_no, pay, now, rules)
    return web.json_response(refund_dict(refund), status=200 if existed else 201, dumps=dumps)
