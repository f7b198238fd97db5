"""The admin sub-app mounted at /admin: the JSON API and the console behind their own auth and error middleware.

Every change through the API is recorded in the audit log (bot.admin.audit, the outermost middleware, so it sees
the status answered). Errors are answered by what went wrong, never as a bare 500: a bad parameter → 400, a
validation problem → 422, WeChat refusing a call → 502, Redis or the database away → 503, anything else → 500
with a JSON body (API) or a Chinese page (console), logged with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import peewee
import redis
from aiohttp import web

from bot.admin import (
    accounts,
    after_sales,
    api,
    audit,
    bargain,
    campaigns,
    catalog,
    commission,
    console,
    coupons,
    group_buy,
    keywords,
    members,
    menu,
    metrics,
    nlu,
    orders,
    outbox,
    segments,
    shipping,
    tags,
)
from bot.admin.api import PREFIX, admin_auth, error
from bot.admin.params import BadParameter
from store.core.wechat_errors import WeChatError

log = logging.getLogger("wxshop.admin")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SECTIONS = (
    api, console, keywords, catalog, members, orders, outbox, shipping, after_sales, metrics, nlu, menu, segments,
    campaigns, group_buy, coupons, commission,
    bargain, tags, accounts, audit,
)
"""Each section has `setup(app, admin)`: its app-wide state on the main app, its routes on the admin sub-app."""

UNAVAILABLE_PAGE = "<!doctype html><meta charset=utf-8><title>暂时不可用</title><p>服务暂时不可用，请稍后再试。</p>"
FAILED_PAGE = "<!doctype html><meta charset=utf-8><title>出错了</title><p>页面出错了，请稍后再试；问题已记录。</p>"


def setup_admin_app(app: web.Application) -> None:
    """Mount the admin sub-app; call after `setup_resources` (its start-up hooks use the resources)."""
    admin = web.Application(middlewares=[audit.audit_changes, admin_errors, admin_auth])
    for section in SECTIONS:
        section.setup(app, admin)
    app.router.add_get("/admin", console.to_console)
    app.add_subapp("/admin", admin)


@web.middleware
async def admin_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    api_call = request.path.startswith(PREFIX)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if api_call and exc.status >= 400:  # the router's 404 / 405 as JSON the console can show
            return error(exc.status, exc.reason.lower())
        raise
    except BadParameter as exc:
        return error(400, str(exc))
    except WeChatError as exc:
        return error(502, f"WeChat refused the call: {exc}")
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, peewee.OperationalError,
            peewee.InterfaceError) as exc:  # fmt: skip
        log.warning("admin request while a dependency is away", extra={"path": request.path, "error": repr(exc)})
        if api_call:
            return error(503, "a dependency (Redis or the database) is unavailable; try again shortly")
        return web.Response(status=503, text=UNAVAILABLE_PAGE, content_type="text/html")
    except Exception:
        log.exception("admin request failed", extra={"path": request.path})
        if api_call:
            return error(500, "internal error; it has been logged")
        return web.Response(status=500, text=FAILED_PAGE, content_type="text/html")
