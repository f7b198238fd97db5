"""Who may call which admin API route: the one table of the least role each route and method needs.

GET covers HEAD. A route missing from the table is refused to everyone but an admin (and a test lists every
registered route, so a new one cannot be forgotten). A viewer (只读) may call GET routes and change only their
own password; an operator runs the shop; accounts and the audit log are an admin's.
"""

from __future__ import annotations

from aiohttp import web

from store.operators.roles import ADMIN, OPERATOR, VIEWER

_RUN = OPERATOR

ROUTE_ROLES: dict[tuple[str, str], str] = {
    # the console itself
    ("GET", "/admin/api/session"): VIEWER,
    ("POST", "/admin/api/password"): VIEWER,  # one's own password
    # accounts and the audit log
    ("GET", "/admin/api/operators"): ADMIN,
    ("POST", "/admin/api/operators"): ADMIN,
    ("PATCH", "/admin/api/operators/{username}"): ADMIN,
    ("POST", "/admin/api/operators/{username}/reset-password"): ADMIN,
    ("GET", "/admin/api/audit"): ADMIN,
    # the shop
    ("GET", "/admin/api/after-sales"): VIEWER,
    ("GET", "/admin/api/after-sales/kpi"): VIEWER,
    ("GET", "/admin/api/after-sales/stats"): VIEWER,
    ("GET", "/admin/api/after-sales/{case_no}"): VIEWER,
    ("POST", "/admin/api/after-sales/{case_no}/approve"): _RUN,
    ("POST", "/admin/api/after-sales/{case_no}/compensate"): _RUN,
    ("POST", "/admin/api/after-sales/{case_no}/refuse"): _RUN,
    ("POST", "/admin/api/after-sales/{case_no}/ship"): _RUN,
    ("GET", "/admin/api/campaigns"): VIEWER,
    ("POST", "/admin/api/campaigns"): _RUN,
    ("GET", "/admin/api/campaigns/{name}"): VIEWER,
    ("POST", "/admin/api/campaigns/{name}/cancel"): _RUN,
    ("POST", "/admin/api/campaigns/{name}/dry-run"): _RUN,
    ("POST", "/admin/api/campaigns/{name}/start"): _RUN,
    ("GET", "/admin/api/clusters"): VIEWER,
    ("GET", "/admin/api/coupon-templates"): VIEWER,
    ("POST", "/admin/api/coupon-templates"): _RUN,
    ("PATCH", "/admin/api/coupon-templates/{code}"): _RUN,
    ("POST", "/admin/api/coupon-templates/{code}/issue"): _RUN,
    ("GET", "/admin/api/gifts"): VIEWER,
    ("GET", "/admin/api/group-offers"): VIEWER,
    ("PUT", "/admin/api/group-offers/{sku_code}"): _RUN,
    ("GET", "/admin/api/groups"): VIEWER,
    ("GET", "/admin/api/keywords"): VIEWER,
    ("POST", "/admin/api/keywords"): _RUN,
    ("POST", "/admin/api/keywords/rules"): _RUN,
    ("GET", "/admin/api/keywords/test"): VIEWER,
    ("DELETE", "/admin/api/keywords/{name}"): _RUN,
    ("PATCH", "/admin/api/keywords/{name}"): _RUN,
    ("PUT", "/admin/api/keywords/{name}"): _RUN,
    ("GET", "/admin/api/members/{openid}"): VIEWER,
    ("GET", "/admin/api/menu"): VIEWER,
    ("POST", "/admin/api/menu"): _RUN,
    ("GET", "/admin/api/metrics"): VIEWER,
    ("GET", "/admin/api/nlu/examples"): VIEWER,
    ("POST", "/admin/api/nlu/examples"): _RUN,
    ("DELETE", "/admin/api/nlu/examples/{id}"): _RUN,
    ("GET", "/admin/api/nlu/intents"): VIEWER,
    ("GET", "/admin/api/nlu/unanswered"): VIEWER,
    ("GET", "/admin/api/nlu/unanswered/groups"): VIEWER,
    ("DELETE", "/admin/api/nlu/unanswered/{id}"): _RUN,
    ("GET", "/admin/api/orders"): VIEWER,
    ("GET", "/admin/api/orders/{order_no}"): VIEWER,
    ("POST", "/admin/api/orders/{order_no}/refund"): _RUN,
    ("POST", "/admin/api/orders/{order_no}/ship"): _RUN,
    ("GET", "/admin/api/orders/{order_no}/tracking"): VIEWER,
    ("GET", "/admin/api/outbox"): VIEWER,
    ("GET", "/admin/api/outbox/stats"): VIEWER,
    ("GET", "/admin/api/outbox/{id}"): VIEWER,
    ("POST", "/admin/api/outbox/{id}/retry"): _RUN,
    ("GET", "/admin/api/products"): VIEWER,
    ("POST", "/admin/api/products"): _RUN,
    ("GET", "/admin/api/products/{code}"): VIEWER,
    ("PUT", "/admin/api/products/{code}/early-access"): _RUN,
    ("GET", "/admin/api/qrcodes"): VIEWER,
    ("POST", "/admin/api/qrcodes"): _RUN,
    ("GET", "/admin/api/segments"): VIEWER,
    ("POST", "/admin/api/segments/preview"): _RUN,
    ("PUT", "/admin/api/segments/{name}"): _RUN,
    ("POST", "/admin/api/skus/{code}/restock"): _RUN,
    ("GET", "/admin/api/commission/report"): VIEWER,
    ("GET", "/admin/api/commission/promoters"): VIEWER,
    ("GET", "/admin/api/bargain-offers"): VIEWER,
    ("PUT", "/admin/api/bargain-offers/{sku_code}"): _RUN,
    ("GET", "/admin/api/bargains"): VIEWER,
    ("GET", "/admin/api/tags"): VIEWER,
    ("POST", "/admin/api/tags/sync"): _RUN,
    ("PUT", "/admin/api/segments/{name}/sync-tag"): _RUN,
    ("POST", "/admin/api/segments/{name}/sync-tag"): _RUN,
    ("PUT", "/admin/api/skus/{code}/stock"): _RUN,
}


def route_of(request: web.Request) -> str:
    """The matched route's pattern (`/admin/api/orders/{order_no}`); the path itself when nothing matched."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


def needed_role(method: str, route: str) -> str | None:
    """The least role for the call; None when the table does not know the route."""
    return ROUTE_ROLES.get(("GET" if method == "HEAD" else method, route))
