"""The web chat preview at /sandbox/ (demo mode only: `wxshop demo` calls `setup_preview`; `serve` never does).

A phone-like chat page (static files in `static/`) over a small JSON API under /sandbox/api/. Everything a
follower does goes through the follower simulator over real HTTP to this app's own callback URL, signed (and in
AES modes encrypted) as WeChat does, with the sandbox World recording the interaction so customer-service
windows open as they would. Customer-service and template messages the emulated WeChat delivers arrive on a
Server-Sent Events stream. The pay emulator lives on the sandbox's port; `/sandbox/api/pay/...` proxies it so
a pay page in the preview's in-page browser stays same-origin.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import secrets
from collections.abc import AsyncIterator, Coroutine, Mapping
from functools import partial
from pathlib import Path
from typing import Any, get_args

import aiohttp
from aiohttp import web

from bot.sandbox import preview_entries as entries
from bot.sandbox.bargain_friends import friends_cut
from bot.sandbox.follower import Account, Delivery, FollowerSimulator, Mode
from bot.sandbox.group_friends import friends_join
from bot.sandbox.mp_media import MEDIA
from bot.sandbox.mp_oauth import OPENID_PARAM
from bot.sandbox.preview_events import ChatHub, parse_after, stream_entries
from bot.sandbox.server import Sandbox
from bot.sandbox.world import FollowerInfo
from bot.web.runtime import CONFIG

SANDBOX = web.AppKey("sandbox", Sandbox)
HUB = web.AppKey("preview_hub", ChatHub)
SESSION = web.AppKey("preview_session", aiohttp.ClientSession)

STATIC = Path(__file__).parent / "static"
ASSETS = {"preview.css": "text/css", "preview.js": "text/javascript", "jsbridge.js": "text/javascript"}
OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
READABLE = "abcdefghjkmnpqrstuvwxyz23456789"
MAX_TEXT = 2048
KINDS = ("text", "click", "view", "follow", "unfollow", "location")
MODES: tuple[str, ...] = get_args(Mode)
# The page runs no inline script and loads nothing from elsewhere; article pictures and pages may come from
# anywhere the merchant put them (the in-page browser is an iframe).
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' http: https: data:; "
    "frame-src 'self' http: https:; connect-src 'self'; base-uri 'none'; form-action 'self'"
)

_dumps = partial(json.dumps, ensure_ascii=False)


def setup_preview(app: web.Application, sandbox: Sandbox) -> None:
    """Mount the preview page and its API on the shop app, watching `sandbox`'s World."""
    config = app[CONFIG]
    app[SANDBOX] = sandbox
    app[HUB] = ChatHub(sandbox.world.clock, entries.template_titles(config.templates))
    app.cleanup_ctx.append(_preview_ctx)
    app.on_shutdown.append(_close_streams)
    router = app.router
    router.add_get("/sandbox", _to_index)
    router.add_get("/sandbox/", index)
    for name in ASSETS:
        router.add_get(f"/sandbox/{name}", asset)
    router.add_get("/sandbox/api/state", state)
    router.add_post("/sandbox/api/followers", create_follower)
    router.add_post("/sandbox/api/send", send)
    router.add_get("/sandbox/api/events", events)
    router.add_post("/sandbox/api/group-friends", group_friends)
    router.add_post("/sandbox/api/bargain-friends", bargain_friends)
    router.add_get("/sandbox/media/{media_id}", media)
    router.add_post("/sandbox/api/pay/confirm", pay_confirm)
    router.add_get("/sandbox/api/pay/prepay/{prepay_id}", pay_prepay)


async def _preview_ctx(app: web.Application) -> AsyncIterator[None]:
    """One ClientSession for the simulator and the pay proxy; the World's deliveries feed the hub meanwhile."""
    hub = app[HUB]
    hub.bind(asyncio.get_running_loop())
    unsubscribe = app[SANDBOX].world.subscribe_deliveries(hub.on_delivery)
    app[SESSION] = aiohttp.ClientSession()
    try:
        yield
    finally:
        unsubscribe()
        hub.bind(None)
        await app[SESSION].close()


async def _close_streams(app: web.Application) -> None:
    app[HUB].close_streams()


# -- pages ------------------------------------------------------------------------------------------------------


async def _to_index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/sandbox/")


async def index(request: web.Request) -> web.FileResponse:
    headers = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    return web.FileResponse(STATIC / "index.html", headers={**headers, "Content-Type": "text/html; charset=utf-8"})


async def asset(request: web.Request) -> web.FileResponse:
    name = request.path.rsplit("/", 1)[-1]
    content_type = f"{ASSETS[name]}; charset=utf-8"
    return web.FileResponse(STATIC / name, headers={"Content-Type": content_type, "Cache-Control": "no-cache"})


# -- the JSON API -----------------------------------------------------------------------------------------------


def _fail(status: int, message: str) -> web.HTTPException:
    """A JSON error the page shows as is: `{"error": "..."}`."""
    kinds: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest,
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
        502: web.HTTPBadGateway,
    }
    return kinds[status](text=_dumps({"error": message}), content_type="application/json")


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


async def _read_object(request: web.Request, *, empty_ok: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip() and empty_ok:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _fail(400, "request body must be a JSON object") from None
    if not isinstance(data, dict):
        raise _fail(400, "request body must be a JSON object")
    return data


def _valid_openid(value: Any) -> str:
    if not isinstance(value, str) or not OPENID.fullmatch(value):
        raise _fail(400, "openid must be 1-64 letters, digits, '_' or '-'")
    return value


def _known(request: web.Request, value: Any) -> FollowerInfo:
    openid = _valid_openid(value)
    info = request.app[SANDBOX].world.follower(openid)
    if info is None:
        raise _fail(400, f"unknown openid {openid!r}: create the follower first (POST /sandbox/api/followers)")
    return info


def _follower_json(request: web.Request, info: FollowerInfo) -> dict[str, Any]:
    world = request.app[SANDBOX].world
    return {
        "openid": info.openid,
        "subscribed": info.subscribed,
        "subscribe_time": info.subscribe_time.isoformat() if info.subscribe_time else None,
        "cs_allowance": world.cs_allowance(info.openid),  # null: unlimited (48 h after a payment)
    }


def _menu_json(buttons: tuple[Mapping[str, Any], ...]) -> list[dict[str, Any]]:
    """The custom menu as WeChat shows it: at most 3 buttons of at most 5 sub-buttons, known fields only."""

    def button(b: Mapping[str, Any]) -> dict[str, Any]:
        shown = {k: str(b[k]) for k in ("name", "type", "key", "url") if k in b}
        subs = b.get("sub_button")
        if isinstance(subs, list) and subs:
            shown["sub_button"] = [button(s) for s in subs[:5] if isinstance(s, Mapping)]
        return shown

    return [button(b) for b in buttons[:3]]


def _default_mode(request: web.Request) -> str:
    """What WeChat sends to this shop: its `[wechat] mode` once it has an EncodingAESKey, else plaintext."""
    wechat = request.app[CONFIG].wechat
    return wechat.mode if wechat.encoding_aes_key else "plain"


async def state(request: web.Request) -> web.Response:
    """GET /sandbox/api/state[?openid=O[&after=N]]: the shop, its menu, the followers; with `openid`, that
    follower and its transcript (entries after N)."""
    config = request.app[CONFIG]
    world = request.app[SANDBOX].world
    body: dict[str, Any] = {
        "shop": {"name": config.shop.name, "original_id": config.wechat.original_id, "mode": _default_mode(request)},
        "now": world.clock.now().isoformat(),
        "menu": _menu_json(config.menu),
        "followers": [_follower_json(request, f) for f in world.followers()],
        "oauth_param": OPENID_PARAM,
        "pay_confirm": "/sandbox/api/pay/confirm",
    }
    if "openid" in request.query:
        info = _known(request, request.query["openid"])
        body["follower"] = _follower_json(request, info)
        personal = world.tags.match(world.tags.tags_of(info.openid)) if world.menu() is not None else None
        if personal is not None:  # the personalised menu WeChat shows this follower (their tags match it)
            body["menu"] = _menu_json(tuple(personal.button))
        body["history"] = request.app[HUB].history(info.openid, parse_after(request.query.get("after")))
    return _json(body)


async def create_follower(request: web.Request) -> web.Response:
    """POST /sandbox/api/followers {openid?}: a follower the account knows (not following yet); 201 when new."""
    data = await _read_object(request, empty_ok=True)
    world = request.app[SANDBOX].world
    openid = _valid_openid(data["openid"]) if data.get("openid") is not None else _new_openid(request)
    existing = world.follower(openid)
    world.register(openid)
    info = world.follower(openid)
    assert info is not None
    return _json({"follower": _follower_json(request, info)}, status=200 if existing else 201)


async def group_friends(request: web.Request) -> web.Response:
    """POST /sandbox/api/group-friends {group_no, count? (1..3, default 2)}: new simulated friends follow through
    the 拼团 share code, join and pay, so the group fills in the preview. Answers {friends: [{openid, joined,
    paid}]}; each friend's chat is in the preview like any follower's."""
    data = await _read_object(request)
    group_no = _text_field(data, "group_no", limit=24)
    count = data.get("count", 2)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 3:
        raise _fail(400, "count must be 1..3")
    world = request.app[SANDBOX].world
    openids = []
    for _ in range(count):
        openid = _new_openid(request)
        world.register(openid)
        openids.append(openid)
    results = await friends_join(_simulator(request, "plain"), request.app[SESSION], request.app[SANDBOX],
                                 request.app[CONFIG].server.public_url, group_no, openids)  # fmt: skip
    return _json({"friends": [dataclasses.asdict(r) for r in results]})


async def bargain_friends(request: web.Request) -> web.Response:
    """POST /sandbox/api/bargain-friends {bargain_no, count? (1..10, default 3)}: new simulated friends follow
    through the 砍价 share code, each cutting once, so the bargain goes down in the preview. Answers {friends:
    [{openid, welcomed}]}."""
    data = await _read_object(request)
    bargain_no = _text_field(data, "bargain_no", limit=24)
    count = data.get("count", 3)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10:
        raise _fail(400, "count must be 1..10")
    world = request.app[SANDBOX].world
    openids = []
    for _ in range(count):
        openid = _new_openid(request)
        world.register(openid)
        openids.append(openid)
    results = await friends_cut(_simulator(request, "plain"), bargain_no, openids)
    return _json({"friends": [dataclasses.asdict(r) for r in results]})


async def media(request: web.Request) -> web.Response:
    """GET /sandbox/media/{media_id}: an image the shop uploaded, as the follower's phone shows it."""
    sandbox = request.app[SANDBOX]
    found = sandbox.app[MEDIA].get(request.match_info["media_id"], sandbox.world.clock.now())
    if found is None:
        raise web.HTTPNotFound()
    return web.Response(body=found.data, content_type=found.content_type)


def _new_openid(request: web.Request) -> str:
    world = request.app[SANDBOX].world
    while True:
        openid = "o_demo_" + "".join(secrets.choice(READABLE) for _ in range(4))
        if world.follower(openid) is None:
            return openid


async def send(request: web.Request) -> web.Response:
    """POST /sandbox/api/send {openid, kind, text|key|url|scene|label, mode?}: the follower acts, over real HTTP.

    Answers {entries: [the follower's entry, then what they saw], delivery: {...}, follower: {...}}.
    """
    data = await _read_object(request)
    kind = data.get("kind")
    if kind not in KINDS:
        raise _fail(400, f"kind must be one of {', '.join(KINDS)}")
    mode = data.get("mode") or _default_mode(request)
    if mode not in MODES:
        raise _fail(400, f"mode must be one of {', '.join(MODES)}")
    if mode != "plain" and not request.app[CONFIG].wechat.encoding_aes_key:
        raise _fail(400, "the shop has no EncodingAESKey: only plain mode works")
    world = request.app[SANDBOX].world
    if kind == "follow":
        openid = _valid_openid(data.get("openid"))
        world.register(openid)
    else:
        openid = _known(request, data.get("openid")).openid
        if kind != "unfollow" and not world.is_following(openid):
            raise _fail(409, f"{openid} does not follow the account: follow it first")
    simulator = _simulator(request, mode)
    hub = request.app[HUB]
    mine, action = _action(request, simulator, openid, kind, data)
    shown = [hub.add(openid, mine)]
    delivery = await action
    shown += [hub.add(openid, entry) for entry in entries.reply_entries(delivery)]
    info = world.follower(openid)
    assert info is not None
    return _json(
        {
            "entries": shown,
            "delivery": {
                "shown": delivery.shown,
                "failed": delivery.failed,
                "error": delivery.error,
                "attempts": [a.status for a in delivery.attempts],
            },
            "follower": _follower_json(request, info),
        }
    )


def _text_field(data: Mapping[str, Any], name: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise _fail(400, f"{name} must be a non-empty string of at most {limit} characters")
    return value


def _action(
    request: web.Request, simulator: FollowerSimulator, openid: str, kind: str, data: Mapping[str, Any]
) -> tuple[entries.Entry, Coroutine[Any, Any, Delivery]]:
    """(the follower's transcript entry, the coroutine that delivers the action to the shop)."""
    if kind == "text":
        text = _text_field(data, "text")
        return entries.follower_text(text), simulator.send_text(openid, text)
    if kind == "click":
        key = _text_field(data, "key", limit=128)
        return entries.follower_event("CLICK", _menu_name(request, key) or key), simulator.click(openid, key)
    if kind == "view":
        url = _text_field(data, "url" if "url" in data else "key", limit=1024)
        return entries.follower_event("VIEW", url), simulator.send_event(openid, "VIEW", url)
    if kind == "follow":
        scene = _text_field(data, "scene", required=False, limit=64) or None
        detail = f"（场景 {scene}）" if scene else ""
        return entries.follower_event("subscribe", detail), simulator.follow(openid, scene)
    if kind == "unfollow":
        return entries.follower_event("unsubscribe"), simulator.unfollow(openid)
    label = _text_field(data, "label", required=False, limit=128) or "上海市黄浦区人民广场"
    try:
        lat, lng = float(data.get("lat", 31.2304)), float(data.get("lng", 121.4737))
    except (TypeError, ValueError):
        raise _fail(400, "lat and lng must be numbers") from None
    fields = {"MsgType": "location", "Location_X": str(lat), "Location_Y": str(lng), "Scale": 15, "Label": label}
    return entries.follower_location(label, lat, lng), simulator.send(openid, fields)


def _menu_name(request: web.Request, key: str) -> str:
    config = request.app[CONFIG]
    for button in [*config.menu, *(b for menu in config.tag_menus.values() for b in menu)]:
        for candidate in [button, *(button.get("sub_button") or [])]:
            if isinstance(candidate, Mapping) and candidate.get("key") == key:
                return str(candidate.get("name") or "")
    return ""


def _simulator(request: web.Request, mode: str) -> FollowerSimulator:
    config = request.app[CONFIG]
    account = Account(
        token=config.wechat.token,
        app_id=config.wechat.app_id,
        original_id=config.wechat.original_id,
        encoding_aes_key=config.wechat.encoding_aes_key,
        mode=mode,  # type: ignore[arg-type]
    )
    sandbox = request.app[SANDBOX]
    return FollowerSimulator(
        _callback_url(request), account, request.app[SESSION], sandbox.world.clock, world=sandbox.world
    )


def _callback_url(request: web.Request) -> str:
    """This server's own callback URL, on the socket the request came in on (the port a test picked, too)."""
    config = request.app[CONFIG]
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname or not isinstance(sockname, tuple):
        return config.server.public_url.rstrip("/") + config.server.wechat_path
    host, port = str(sockname[0]), int(sockname[1])
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}{config.server.wechat_path}"


async def events(request: web.Request) -> web.StreamResponse:
    """GET /sandbox/api/events?openid=O[&after=N]: text/event-stream of transcript entries (`event: entry`)."""
    openid = _known(request, request.query.get("openid")).openid if "openid" in request.query else None
    after = parse_after(request.headers.get("Last-Event-ID") or request.query.get("after"))
    return await stream_entries(request, request.app[HUB], openid, after)


# -- the pay emulator, same-origin ------------------------------------------------------------------------------


def _pay_base(request: web.Request) -> str:
    sandbox = request.app[SANDBOX]
    return f"http://{sandbox.host}:{sandbox.port}/sandbox/pay"


async def _proxy(request: web.Request, method: str, url: str, body: bytes | None = None) -> web.Response:
    try:
        async with request.app[SESSION].request(
            method, url, data=body, headers={"Content-Type": "application/json"}
        ) as upstream:
            payload = await upstream.read()
            return web.Response(body=payload, status=upstream.status, content_type="application/json")
    except aiohttp.ClientError as exc:
        message = f"pay emulator unreachable: {type(exc).__name__}"
        return _json({"err_msg": "get_brand_wcpay_request:fail", "err_desc": message, "error": message}, 502)


async def pay_confirm(request: web.Request) -> web.Response:
    """POST /sandbox/api/pay/confirm: the payer confirms (JSAPI params or {prepay_id}); WeixinJSBridge's answer."""
    return await _proxy(request, "POST", f"{_pay_base(request)}/confirm", await request.read())


async def pay_prepay(request: web.Request) -> web.Response:
    """GET /sandbox/api/pay/prepay/{prepay_id}: what the payment sheet shows (body, total_fee) before paying."""
    prepay_id = request.match_info["prepay_id"]
    if not OPENID.fullmatch(prepay_id):
        raise _fail(400, "prepay_id must be letters, digits, '_' or '-'")
    return await _proxy(request, "GET", f"{_pay_base(request)}/prepay/{prepay_id}")
