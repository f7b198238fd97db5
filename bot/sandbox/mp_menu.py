"""The custom menu API with WeChat's validation (WECHAT.md §2.4).

1–3 top buttons (40016), 1–5 sub buttons (40023), sub buttons cannot nest (40022). Names: ≤ 16 bytes on top
(40018), ≤ 60 bytes below (40025). Types must be known (40017 top / 40024 sub — the codes of WeChat's errmsg
table "invalid button type" / "invalid sub button type"; 40015 "invalid menu type" is used when `button` is not
an array). Click-like types need a key of 1–128 bytes (40019 / 40026); view and miniprogram need a url of 1–1024
bytes (40020 / 40027: WeChat reports a missing url as a url size error); miniprogram also needs appid and
pagepath (47001); media_id / view_limited need media_id (40007); article_id / article_view_limited need
article_id (40060). An empty ``sub_button`` list counts as none (WeChat's own examples send ``[]`` on leaves).
``menu/get`` answers ``{"menu": {"button": [...]}}`` with ``sub_button: []`` on leaves (and ``conditionalmenu``
when personalised menus exist, `bot.sandbox.mp_tags`), or 46003 without a menu; ``menu/delete`` removes both.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.mp_errors import MpError, ok, plain, read_json
from bot.sandbox.mp_state import MP_STATE

KEY_TYPES = frozenset(
    {
        "click",
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
    }
)
URL_TYPES = frozenset({"view", "miniprogram"})
MEDIA_TYPES = frozenset({"media_id", "view_limited"})
ARTICLE_TYPES = frozenset({"article_id", "article_view_limited"})
BUTTON_TYPES = KEY_TYPES | URL_TYPES | MEDIA_TYPES | ARTICLE_TYPES

# errcodes for (top level, sub level)
_TYPE = (40017, 40024)
_NAME = (40018, 40025)
_KEY = (40019, 40026)
_URL = (40020, 40027)
_NAME_MAX = (16, 60)
KEY_MAX_BYTES = 128
URL_MAX_BYTES = 1024


def setup_menu(app: web.Application) -> None:
    app.router.add_post("/cgi-bin/menu/create", menu_create)
    app.router.add_get("/cgi-bin/menu/get", menu_get)
    app.router.add_get("/cgi-bin/menu/delete", menu_delete)


def _bytes(value: Any) -> int:
    return len(value.encode("utf-8")) if isinstance(value, str) else 0


def _validate_leaf(button: dict[str, Any], level: int) -> dict[str, Any]:
    kind = button.get("type")
    if kind not in BUTTON_TYPES:
        raise MpError(_TYPE[level])
    leaf: dict[str, Any] = {"type": kind, "name": button["name"]}
    if kind in KEY_TYPES:
        if not 0 < _bytes(button.get("key")) <= KEY_MAX_BYTES:
            raise MpError(_KEY[level])
        leaf["key"] = button["key"]
    elif kind in URL_TYPES:
        if not 0 < _bytes(button.get("url")) <= URL_MAX_BYTES:
            raise MpError(_URL[level])
        leaf["url"] = button["url"]
        if kind == "miniprogram":
            if not (button.get("appid") and button.get("pagepath")):
                raise MpError(47001, "hint: miniprogram button needs appid and pagepath")
            leaf |= {"appid": button["appid"], "pagepath": button["pagepath"]}
    elif kind in MEDIA_TYPES:
        if not button.get("media_id"):
            raise MpError(40007)
        leaf["media_id"] = button["media_id"]
    else:
        if not button.get("article_id"):
            raise MpError(40060)
        leaf["article_id"] = button["article_id"]
    leaf["sub_button"] = []
    return leaf


def _validate_button(button: Any, level: int) -> dict[str, Any]:
    if not isinstance(button, dict):
        raise MpError(_TYPE[level])
    if not 0 < _bytes(button.get("name")) <= _NAME_MAX[level]:
        raise MpError(_NAME[level])
    subs = button.get("sub_button")
    if subs:
        if level == 1:
            raise MpError(40022)
        if not isinstance(subs, list) or len(subs) > 5:
            raise MpError(40023)
        return {"name": button["name"], "sub_button": [_validate_button(sub, 1) for sub in subs]}
    return _validate_leaf(button, level)


def validate_menu(data: dict[str, Any]) -> dict[str, Any]:
    """The menu as WeChat stores and returns it, or the MpError WeChat answers."""
    buttons = data.get("button")
    if buttons is not None and not isinstance(buttons, list):
        raise MpError(40015)
    if not buttons or len(buttons) > 3:
        raise MpError(40016)
    return {"button": [_validate_button(button, 0) for button in buttons]}


async def menu_create(request: web.Request) -> web.Response:
    menu = validate_menu(await read_json(request))
    request.app[MP_STATE].world.set_menu(menu)
    return ok()


async def menu_get(request: web.Request) -> web.Response:
    world = request.app[MP_STATE].world
    menu = world.menu()
    if menu is None:
        raise MpError(46003)
    conditional = [
        {"button": m.button, "matchrule": m.matchrule, "menuid": m.menuid}
        for m in world.tags.menus()
    ]
    return plain({"menu": menu, "conditionalmenu": conditional} if conditional else {"menu": menu})


async def menu_delete(request: web.Request) -> web.Response:
    world = request.app[MP_STATE].world
    world.set_menu(None)
    world.tags.clear_menus()  # deleting the default menu deletes the personalised ones with it
    return ok()
