"""An aiohttp emulator of api.weixin.qq.com (and WeChat's OAuth page) over a shared `World`.

Paths are WeChat's own (`/cgi-bin/…`, `/sns/…`, `/connect/oauth2/authorize`), so wechatpy works unmodified with
``API_BASE_URL = f"{base}/cgi-bin/"`` and a `fetch_access_token` that GETs ``{base}/cgi-bin/token`` (wechatpy
hard-codes the real host there, WECHAT.md §4.2). Every answer is WeChat's JSON with HTTP 200, errors included.

Common rules, applied in this order by one middleware:
1. ``latency_ms`` of emulated network time (an `asyncio.sleep` inside the server);
2. an unknown path answers 48001 ``api unauthorized`` (with a hint that the sandbox does not emulate it) and a
   wrong method 43001/43002 — JSON, never an HTML 404 that a client would choke on;
3. errors queued with `mp_state(app).inject_error(path, errcode, times)`, then random ``-1 system error`` at
   ``fail_rate``; answers lost with `mp_state(app).lose_answers(path, times)` (the call takes effect, the client
   gets HTTP 502);
4. ``access_token`` on every /cgi-bin/ call except token and stable_token: missing 41001, unknown or superseded
   40001, expired 42001.

Endpoint rules are in the docstrings of `mp_tokens`, `mp_messages`, `mp_menu`, `mp_tags`, `mp_oauth` and below.

Tests and the demo steer the emulator through `mp_state(app)` (an `MpState`): `token_fetches`, `calls` (per
path), `inject_error(path, errcode, times=1)`, `await drain_pushes()` and `push_log`; and through the `World`:
`follow`, `record_interaction`, `block_templates`, `scan`, `delivered`, `subscribe_deliveries`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import aiohttp
from aiohttp import web

from bot.sandbox.mp_errors import MpError, dumps, plain, read_json
from bot.sandbox.mp_media import setup_media
from bot.sandbox.mp_menu import setup_menu
from bot.sandbox.mp_messages import setup_messages
from bot.sandbox.mp_oauth import setup_oauth
from bot.sandbox.mp_push import PushMode
from bot.sandbox.mp_state import MP_STATE, MpConfig, MpState, mp_state
from bot.sandbox.mp_tags import setup_tags
from bot.sandbox.world import QrCode, World

__all__ = ["MP_STATE", "MpConfig", "MpState", "create_mp_app", "mp_state"]

API_PREFIXES = ("/cgi-bin/", "/sns/")
TOKENLESS = frozenset({"/cgi-bin/token", "/cgi-bin/stable_token"})
QR_TEMPORARY = frozenset({"QR_SCENE", "QR_STR_SCENE"})
QR_ACTIONS = QR_TEMPORARY | {"QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE"}
QR_DEFAULT_EXPIRE_S = 60
QR_MAX_EXPIRE_S = 2_592_000
QR_TEMP_SCENE_MAX = 2**32 - 1
QR_LIMIT_SCENE_MAX = 100_000
QR_SCENE_STR_MAX = 64

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_mp_app(
    world: World,
    *,
    callback_url: str | None = None,
    token: str = "",
    encoding_aes_key: str = "",
    original_id: str = "gh_sandbox",
    latency_ms: int = 0,
    fail_rate: float = 0.0,
    seed: int | None = None,
    token_daily_quota: int = 2000,
    template_daily_quota: int = 100_000,
    template_ids: frozenset[str] | None = None,
    strict_template_fields: bool = True,
    oauth_domains: frozenset[str] | None = None,
    push_mode: PushMode | None = None,
) -> web.Application:
    """The MP API emulator for `world`.

    `callback_url`/`token`/`encoding_aes_key`/`original_id` describe the account's server configuration, used
    to sign (and in safe mode encrypt) pushes such as TEMPLATESENDJOBFINISH. `latency_ms`, `fail_rate` and
    `seed` shape the emulated network. `template_ids` (when given) is the account's template list; `oauth_domains`
    (when given) the authorised web-page domains; `push_mode` overrides the mode implied by the key.
    """
    config = MpConfig(
        callback_url=callback_url,
        token=token,
        encoding_aes_key=encoding_aes_key,
        original_id=original_id,
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        seed=seed,
        token_daily_quota=token_daily_quota,
        template_daily_quota=template_daily_quota,
        template_ids=template_ids,
        strict_template_fields=strict_template_fields,
        oauth_domains=oauth_domains,
        push_mode=push_mode,
    )
    app = web.Application(middlewares=[emulate_wechat])
    app[MP_STATE] = MpState(world, config)
    app.cleanup_ctx.append(_client_session)
    app.router.add_get("/cgi-bin/token", token_view)
    app.router.add_post("/cgi-bin/stable_token", stable_token_view)
    app.router.add_get("/cgi-bin/user/info", user_info)
    app.router.add_post("/cgi-bin/qrcode/create", qrcode_create)
    setup_messages(app)
    setup_menu(app)
    setup_media(app)
    setup_tags(app)
    setup_oauth(app)
    return app


async def _client_session(app: web.Application) -> AsyncIterator[None]:
    """One ClientSession for pushes to the callback URL, open for the app's lifetime."""
    state = app[MP_STATE]
    state.session = aiohttp.ClientSession()
    yield
    await state.close()


@web.middleware
async def emulate_wechat(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[MP_STATE]
    if state.config.latency_ms:
        await asyncio.sleep(state.config.latency_ms / 1000)
    path = request.path
    try:
        route_error = request.match_info.http_exception
        if path.startswith(API_PREFIXES):
            state.calls[path] += 1
        if route_error is not None:
            raise _route_error(route_error, path)
        if path.startswith(API_PREFIXES):
            state.raise_injected(path)
            if state.roll_failure():
                raise MpError(-1)
            if path.startswith("/cgi-bin/") and path not in TOKENLESS:
                state.tokens.check(request.query.get("access_token"))
        response = await handler(request)
    except MpError as exc:
        response = web.json_response(exc.body(state.next_rid()), dumps=dumps)
    if state.answer_lost(path):
        return web.Response(status=502, text="502 Bad Gateway")
    return response


def _route_error(error: web.HTTPException, path: str) -> MpError:
    if isinstance(error, web.HTTPMethodNotAllowed):
        return MpError(43002 if "POST" in error.allowed_methods else 43001)
    return MpError(48001, f"hint: [{path} is not emulated by the wxshop sandbox]")


async def token_view(request: web.Request) -> web.Response:
    state = request.app[MP_STATE]
    q = request.query
    token = state.tokens.issue_classic(q.get("grant_type"), q.get("appid"), q.get("secret"))
    return plain({"access_token": token.value, "expires_in": token.expires_in(token.issued_at)})


async def stable_token_view(request: web.Request) -> web.Response:
    state = request.app[MP_STATE]
    data = await read_json(request)
    force = data.get("force_refresh", False)
    if not isinstance(force, bool):
        raise MpError(47001, "hint: force_refresh must be a boolean")
    token = state.tokens.issue_stable(data.get("grant_type"), data.get("appid"), data.get("secret"), force)
    return plain({"access_token": token.value, "expires_in": token.expires_in(state.clock.now())})


async def user_info(request: web.Request) -> web.Response:
    """WECHAT.md §2.6: subscribe 0 and nothing else for non-followers; no nickname/headimgurl since 2021-12-27."""
    state = request.app[MP_STATE]
    openid = request.query.get("openid", "")
    info = state.world.follower(openid) if openid else None
    if info is None:
        raise MpError(40003)
    if not info.subscribed or info.subscribe_time is None:
        return plain({"subscribe": 0, "openid": openid})
    return plain(
        {
            "subscribe": 1,
            "openid": openid,
            "subscribe_time": int(info.subscribe_time.timestamp()),
            "remark": "",
            "groupid": 0,
            "tagid_list": state.world.tags.tags_of(openid),
            "subscribe_scene": info.subscribe_scene,
            "qr_scene": info.qr_scene,
            "qr_scene_str": info.qr_scene_str,
        }
    )


def _qr_scene(action: str, scene: dict[str, object]) -> int | str:
    """The scene of a create request. A missing scene_id becomes 0, as WeChat does with a body lacking the
    `scene` wrapper (WECHAT.md §1.4 gotcha); explicit values must be in range (40053)."""
    if action.endswith("STR_SCENE"):
        value = scene.get("scene_str")
        if not isinstance(value, str) or not 0 < len(value) <= QR_SCENE_STR_MAX:
            raise MpError(40053, "hint: scene_str must be 1-64 characters")
        return value
    if "scene_id" not in scene:
        return 0
    value = scene["scene_id"]
    top = QR_TEMP_SCENE_MAX if action in QR_TEMPORARY else QR_LIMIT_SCENE_MAX
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= top:
        raise MpError(40053, f"hint: scene_id must be 1-{top}")
    return value


async def qrcode_create(request: web.Request) -> web.Response:
    """WECHAT.md §2.5. Temporary codes default to 60 s (the current doc; older ones said 30 s) and are capped at
    30 days; a permanent code for the same scene returns the same ticket; the 100,000 permanent-code limit is
    not enforced."""
    state = request.app[MP_STATE]
    data = await read_json(request)
    action = data.get("action_name")
    if action not in QR_ACTIONS:
        raise MpError(40053, "hint: invalid action_name")
    info = data.get("action_info")
    scene_obj = info.get("scene") if isinstance(info, dict) else None
    scene = _qr_scene(action, scene_obj if isinstance(scene_obj, dict) else {})
    now = state.clock.now()
    if action in QR_TEMPORARY:
        expire = data.get("expire_seconds", QR_DEFAULT_EXPIRE_S)
        if not isinstance(expire, int) or isinstance(expire, bool) or expire < 1:
            raise MpError(47001, "hint: expire_seconds must be a positive integer")
        expire = min(expire, QR_MAX_EXPIRE_S)
        qrcode = _new_qrcode(state, action, scene, now, timedelta(seconds=expire))
        state.world.add_qrcode(qrcode)
        return plain({"ticket": qrcode.ticket, "expire_seconds": expire, "url": qrcode.url})
    qrcode = state.world.permanent_qrcode(action, scene) or _new_qrcode(state, action, scene, now, None)
    state.world.add_qrcode(qrcode)
    return plain({"ticket": qrcode.ticket, "url": qrcode.url})


def _new_qrcode(state: MpState, action: str, scene: int | str, now: datetime, ttl: timedelta | None) -> QrCode:
    ticket = "gQ" + state.random_string(94)
    url = "http://weixin.qq.com/q/" + state.random_string(22)
    return QrCode(ticket, action, scene, now, None if ttl is None else now + ttl, url)
