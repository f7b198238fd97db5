"""Web OAuth (snsapi_base / snsapi_userinfo) as WeChat's in-app browser and API do it (WECHAT.md §2.7).

``GET /connect/oauth2/authorize`` is the page WeChat shows inside its browser. In the sandbox the browsing
follower is named by the ``sandbox_openid`` query parameter, or else the ``sandbox_openid`` cookie (the page sets
the cookie whenever the parameter is given, so later visits from the same browser remember who is browsing).
It answers 302 to ``redirect_uri?code=CODE&state=STATE``. Errors are shown as a small page with WeChat's code
(10003 redirect domain not authorised — only when `oauth_domains` is configured, 10005 unknown scope, 10011 no
redirect_uri, 10012 no appid, 40013 wrong appid) and HTTP 400, since a browser, not wechatpy, reads them.

``GET /sns/oauth2/access_token`` redeems a code: unknown or older than 5 minutes → 40029, reused → 40163.
"""

from __future__ import annotations

import html

import yarl
from aiohttp import web

from bot.sandbox.mp_errors import MpError, plain
from bot.sandbox.mp_state import MP_STATE

OPENID_PARAM = "sandbox_openid"
SCOPES = frozenset({"snsapi_base", "snsapi_userinfo"})


def setup_oauth(app: web.Application) -> None:
    app.router.add_get("/connect/oauth2/authorize", authorize)
    app.router.add_get("/sns/oauth2/access_token", sns_access_token)


def _page(code: int, message: str, status: int = 400) -> web.Response:
    body = (
        "<!doctype html><meta charset=utf-8><title>微信</title>"
        f"<p>Oops! Something went wrong:(</p><p>errcode={code} {html.escape(message)}</p>"
    )
    return web.Response(text=body, status=status, content_type="text/html")


async def authorize(request: web.Request) -> web.StreamResponse:
    state = request.app[MP_STATE]
    query = request.query
    appid, redirect_uri, scope = query.get("appid"), query.get("redirect_uri"), query.get("scope")
    if not appid:
        return _page(10012, "appid不能为空")
    if appid != state.world.app_id:
        return _page(40013, "invalid appid")
    if not redirect_uri:
        return _page(10011, "redirect_uri不能为空")
    target = yarl.URL(redirect_uri)
    domains = state.config.oauth_domains
    if not target.absolute or (domains is not None and target.host not in domains):
        return _page(10003, "redirect_uri域名与后台配置不一致")
    if query.get("response_type") != "code" or scope not in SCOPES:
        return _page(10005, "此公众号并没有这些scope的权限")
    openid = query.get(OPENID_PARAM) or request.cookies.get(OPENID_PARAM)
    if not openid:
        return _page(0, f"sandbox: say which follower is browsing with ?{OPENID_PARAM}= or the {OPENID_PARAM} cookie")
    state.world.register(openid)
    code = state.oauth.issue(openid, scope, state.clock.now())
    location = target.update_query(code=code, state=query.get("state", ""))
    response = web.Response(status=302, headers={"Location": str(location)})
    if OPENID_PARAM in query:
        response.set_cookie(OPENID_PARAM, openid, httponly=True, samesite="Lax")
    return response


async def sns_access_token(request: web.Request) -> web.Response:
    state = request.app[MP_STATE]
    query = request.query
    if not query.get("appid"):
        raise MpError(41002)
    if query["appid"] != state.world.app_id:
        raise MpError(40013)
    if not query.get("secret"):
        raise MpError(41004)
    if query["secret"] != state.world.app_secret:
        raise MpError(40125)
    if not query.get("code"):
        raise MpError(41008)
    if query.get("grant_type") != "authorization_code":
        raise MpError(40002)
    openid, scope = state.oauth.redeem(query["code"], state.clock.now())
    return plain(
        {
            "access_token": state.random_string(96),
            "expires_in": 7200,
            "refresh_token": state.random_string(96),
            "openid": openid,
            "scope": scope,
        }
    )
