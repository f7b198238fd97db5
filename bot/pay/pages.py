"""The H5 pay page: `GET /pay/{order_no}` (the link the chat replies with).

1. An order that cannot be paid (unknown, paid, cancelled, past its deadline) gets a clear page instead.
2. Without `code`: 302 to WeChat's web OAuth (snsapi_base, silent) with `redirect_uri` = this same URL.
   The authorize page is `[wechat] oauth_base_url`, or when that is empty: https://open.weixin.qq.com for the
   real API (`api_base_url` on api.weixin.qq.com), else `api_base_url` itself (the sandbox serves
   `/connect/oauth2/authorize`).
3. With `code`: exchanged for the openid (wechatpy `WeChatOAuth`, one instance per request; a used or stale
   code — a reload — goes round OAuth once more). The openid must be the order's buyer, else 403.
4. 统一下单 through `WeChatPay` (`out_trade_no` = order number, `client_ip` = the browser's address,
   `time_start`/`time_expire` from our clock; `time_expire` is the order's deadline, or 5½ minutes from now if
   that is sooner, because WeChat refuses shorter validity — the timeout job closes the WeChat order at our
   deadline either way), then a page that calls `WeixinJSBridge.invoke('getBrandWCPayRequest', …)` with
   `jsapi.get_jsapi_params(prepay_id)`. The page trusts nothing the bridge says: it polls
   `GET /pay/{order_no}/status` until the payment notice has been recorded.

In the demo the sandbox preview is mounted on this app, and the page also loads its WeixinJSBridge stand-in
(`/sandbox/jsbridge.js`). Pages are escaped throughout and carry a CSP without inline script.
"""

from __future__ import annotations

import functools
import html
import ipaddress
import json
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import requests
from aiohttp import web
from wechatpy.exceptions import WeChatOAuthException
from wechatpy.oauth import WeChatOAuth

from bot.pay.client import ensure_pay_client
from bot.process.config import Config
from bot.web.forwarded import Network, client_address, parse_networks
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from store.core.money import yuan
from store.orders.checkout import CANCELLED, REFUNDED, REFUNDING, UNPAID, Order, early_access_refusal, get_order
from store.orders.payments import PayError

log = logging.getLogger("wxshop.pay")

ORDER_NO = re.compile(r"[0-9A-Za-z_-]{1,32}")
MIN_PREPAY_VALIDITY = timedelta(minutes=5, seconds=30)
STATIC = Path(__file__).parent / "static"
ASSETS = {"pay.js": "text/javascript", "pay.css": "text/css"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


def setup_pay_pages(app: web.Application) -> None:
    ensure_pay_client(app)
    for name in ASSETS:
        app.router.add_get(f"/pay/assets/{name}", _asset)
    app.router.add_get("/pay/{order_no}", pay_page)
    app.router.add_get("/pay/{order_no}/status", pay_status)


def oauth_base_url(config: Config) -> str:
    if config.wechat.oauth_base_url:
        return config.wechat.oauth_base_url.rstrip("/")
    if urlparse(config.wechat.api_base_url).hostname == "api.weixin.qq.com":
        return "https://open.weixin.qq.com"
    return config.wechat.api_base_url.rstrip("/")


def _oauth(config: Config, order_no: str, state: str) -> WeChatOAuth:
    oauth = WeChatOAuth(config.wechat.app_id, config.wechat.app_secret, pay_url(config, order_no), state=state)
    oauth.API_BASE_URL = config.wechat.api_base_url.rstrip("/") + "/"
    oauth.OAUTH_BASE_URL = oauth_base_url(config) + "/connect/"
    return oauth


def pay_url(config: Config, order_no: str) -> str:
    return f"{config.server.public_url.rstrip('/')}/pay/{order_no}"


def _openid_for(config: Config, order_no: str, code: str) -> str:
    oauth = _oauth(config, order_no, "")
    try:
        return str(oauth.fetch_access_token(code)["openid"])
    finally:
        oauth._http.close()


def client_ip(request: web.Request, trusted: tuple[Network, ...]) -> str:
    """The browser's address for `spbill_create_ip`, found as the console's sign-in limit finds it: the peer, or
    the X-Forwarded-For hop behind `[admin] trusted_proxies` (bot.web.forwarded), never a hop the client wrote."""
    found = client_address(request.remote or "", request.headers.getall("X-Forwarded-For", []), trusted)
    try:
        return str(ipaddress.ip_address(found))
    except ValueError:  # a Unix socket's peer
        return "127.0.0.1"


# ---- pages ------------------------------------------------------------------------------------------------------


def _page(title: str, body: str, status: int = 200, scripts: tuple[str, ...] = ()) -> web.Response:
    tags = "".join(f'<script src="{html.escape(src)}"></script>' for src in scripts)
    text = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="/pay/assets/pay.css"></head>'
        f'<body><main class="card">{body}</main>{tags}</body></html>'
    )
    headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return web.Response(text=text, status=status, content_type="text/html", headers=headers)


def notice_page(title: str, message: str, status: int, order: Order | None = None) -> web.Response:
    body = f'<h1>{html.escape(title)}</h1><p class="message">{html.escape(message)}</p>'
    if order is not None:
        body += (
            f'<p class="title">{html.escape(order.title)}</p>'
            f'<p class="amount">{html.escape(yuan(order.payable_fen))}</p>'
            f'<p class="muted">订单号 {html.escape(order.order_no)}</p>'
        )
    body += '<p class="muted">请回到公众号聊天窗口继续。</p>'
    return _page(title, body, status)


def _blocked(order: Order | None, now: datetime) -> web.Response | None:
    """The page for an order that cannot be paid now, or None when it can."""
    if order is None:
        return notice_page("订单不存在", "没有找到这个订单，请回到聊天里查看“我的订单”。", 404)
    if order.status == CANCELLED:
        why = "订单超时未支付，已自动取消。" if order.cancel_reason == "timeout" else "订单已取消。"
        return notice_page("订单已取消", why + "如需购买请重新下单。", 410, order)
    if order.status in (REFUNDING, REFUNDED):
        return notice_page("订单已退款", "这笔订单已申请退款，无需再支付。", 410, order)
    if order.status != UNPAID:
        return notice_page("订单已支付", "这笔订单已经支付成功，我们会尽快处理。", 200, order)
    if now >= order.expires_at:
        return notice_page("订单已超时", "订单已超过支付时限，库存已释放，请重新下单。", 410, order)
    return None


async def pay_page(request: web.Request) -> web.Response:
    app = request.app
    config = app[CONFIG]
    order_no = request.match_info["order_no"]
    if not ORDER_NO.fullmatch(order_no):
        return notice_page("订单不存在", "支付链接不完整，请回到聊天里重新打开。", 404)
    order = await run_blocking(app, get_order, order_no)
    now = app[RESOURCES].clock.now()
    blocked = _blocked(order, now)
    if blocked is not None:
        return blocked
    assert order is not None
    code = request.query.get("code")
    if not code:
        raise web.HTTPFound(_oauth(config, order_no, "pay").authorize_url)
    try:
        openid = await run_blocking(app, _openid_for, config, order_no, code)
    except (WeChatOAuthException, requests.RequestException, KeyError, ValueError) as exc:
        if request.query.get("state") != "retry":  # a reload reuses a spent code: ask WeChat for a fresh one
            raise web.HTTPFound(_oauth(config, order_no, "retry").authorize_url) from None
        log.warning("pay page OAuth failed", extra={"order_no": order_no, "error": repr(exc)})
        return notice_page("微信授权失败", "请回到聊天里重新打开支付链接。", 400)
    if openid != order.openid:
        log.warning("pay page opened by another follower", extra={"order_no": order_no})
        return notice_page("无法支付", "这不是您的订单，只有下单的微信用户本人可以支付。", 403)
    refusal = await run_blocking(app, early_access_refusal, order, now)
    if refusal is not None:  # 优先购: the product went into an early-access window this buyer is not in
        return notice_page("会员优先购", refusal, 403, order)
    return await _checkout(request, order, openid, now)


async def _checkout(request: web.Request, order: Order, openid: str, now: datetime) -> web.Response:
    app = request.app
    config = app[CONFIG]
    client = ensure_pay_client(app)
    buyer_ip = client_ip(request, parse_networks(config.admin.trusted_proxies))
    try:
        prepay_id = await run_blocking(
            app, client.unified_order, order_no=order.order_no, body=f"{config.shop.name}-{order.title}",
            total_fee=order.payable_fen, openid=openid, client_ip=buyer_ip,
            notify_url=f"{config.server.public_url.rstrip('/')}/pay/notify", time_start=now,
            time_expire=max(order.expires_at, now + MIN_PREPAY_VALIDITY),
        )  # fmt: skip
    except PayError as exc:
        if exc.code == "ORDERPAID":
            return notice_page("订单已支付", "这笔订单已经支付成功，我们会尽快处理。", 200, order)
        if exc.code == "ORDERCLOSED":
            return notice_page("订单已关闭", "订单已关闭，请重新下单。", 410, order)
        log.error("unifiedorder failed", extra={"order_no": order.order_no, "error": str(exc)})
        return notice_page("暂时无法支付", "微信支付暂时不可用，请稍后再打开支付链接。", 502, order)
    params = client.jsapi_params(prepay_id, now)
    body = (
        f'<div id="pay" data-params="{html.escape(json.dumps(params))}" '
        f'data-status-url="/pay/{html.escape(order.order_no)}/status">'
        f"<h1>{html.escape(config.shop.name)}</h1>"
        f'<p class="title">{html.escape(order.title)}</p>'
        f'<p class="amount">{html.escape(yuan(order.payable_fen))}</p>'
        f'<p class="muted">订单号 {html.escape(order.order_no)}</p>'
        f'<p class="muted">请在 {order.expires_at:%H:%M} 前完成支付</p>'
        '<button id="pay-button" type="button">立即支付</button>'
        '<p id="message" class="message" role="status"></p></div>'
    )
    scripts = (("/sandbox/jsbridge.js",) if _sandbox_mounted(app) else ()) + ("/pay/assets/pay.js",)
    return _page(f"订单支付 - {config.shop.name}", body, scripts=scripts)


def _sandbox_mounted(app: web.Application) -> bool:
    """The demo's chat preview (bot/sandbox/preview.py) is on this app: its WeixinJSBridge stand-in is served."""
    from bot.sandbox.preview import SANDBOX  # the sandbox package is only needed when checking for it

    return SANDBOX in app


async def pay_status(request: web.Request) -> web.Response:
    """What the pay page polls after the bridge says ok: only the order's status, nothing personal."""
    order_no = request.match_info["order_no"]
    order = await run_blocking(request.app, get_order, order_no) if ORDER_NO.fullmatch(order_no) else None
    if order is None:
        return web.json_response({"status": "unknown"}, status=404)
    return web.json_response({"status": order.status, "paid": order.paid_at is not None},
                             headers={"Cache-Control": "no-store"})  # fmt: skip


@functools.cache
def _asset_bytes(name: str) -> bytes:
    return (STATIC / name).read_bytes()


async def _asset(request: web.Request) -> web.Response:
    name = request.path.rsplit("/", 1)[-1]
    headers = {"Cache-Control": "public, max-age=300"}
    return web.Response(body=_asset_bytes(name), content_type=ASSETS[name], headers=headers)
