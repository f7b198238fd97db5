"""User tags (用户标签管理) and personalised menus (个性化菜单) of the MP API emulator; the rules are in
`bot.sandbox.tag_book`.

* `tags/create` `{"tag": {"name"}}` → `{"tag": {"id", "name"}}`; 45157 empty or taken name, 45158 over 30 bytes,
  45056 over 100 tags. `tags/get` → `{"tags": [{"id", "name", "count"}]}` (星标组 included).
  `tags/update` / `tags/delete` `{"tag": {"id"[, "name"]}}`: 45058 for the system tags, 45159 unknown id, 45057
  deleting a tag of more than 100,000 followers.
* `tags/members/batchtagging|batchuntagging` `{"openid_list", "tagid"}`: 40032 an empty list or more than 50,
  45159 unknown tag, 40003 an openid the account never saw, 45059 a follower over 20 tags (nothing applied).
* `tags/getidlist` `{"openid"}` → `{"tagid_list"}`; `user/tag/get` `{"tagid", "next_openid"}` → `{"count",
  "data": {"openid": [...]}, "next_openid"}` in pages of 10,000.
* `menu/addconditional` `{"button", "matchrule"}` → `{"menuid"}`: the buttons checked as `menu/create` checks
  them; 65303 without a default menu, 65304 an empty matchrule, 65320 sex / country / province / city /
  language (WeChat stopped matching on personal data). `menu/delconditional` `{"menuid"}` (65301 unknown).
  `menu/trymatch` `{"user_id"}` → `{"button": [...]}` of the menu that follower sees (65302 unknown user, 46003
  no menu). `menu/get` lists them under `conditionalmenu`; `menu/delete` removes them with the default menu.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.mp_errors import MpError, ok, plain, read_json
from bot.sandbox.mp_menu import validate_menu
from bot.sandbox.mp_state import MP_STATE
from bot.sandbox.tag_book import BATCH_MAX_OPENIDS, TagBook

PRIVATE_RULES = frozenset({"sex", "country", "province", "city", "language"})
MATCH_RULES = frozenset({"tag_id", "client_platform_type"}) | PRIVATE_RULES


def setup_tags(app: web.Application) -> None:
    app.router.add_post("/cgi-bin/tags/create", tags_create)
    app.router.add_get("/cgi-bin/tags/get", tags_get)
    app.router.add_post("/cgi-bin/tags/update", tags_update)
    app.router.add_post("/cgi-bin/tags/delete", tags_delete)
    app.router.add_post("/cgi-bin/tags/members/batchtagging", batch_tagging)
    app.router.add_post("/cgi-bin/tags/members/batchuntagging", batch_untagging)
    app.router.add_post("/cgi-bin/tags/getidlist", tag_id_list)
    app.router.add_post("/cgi-bin/user/tag/get", tag_users)
    app.router.add_post("/cgi-bin/menu/addconditional", add_conditional)
    app.router.add_post("/cgi-bin/menu/delconditional", del_conditional)
    app.router.add_post("/cgi-bin/menu/trymatch", try_match)


def _book(request: web.Request) -> TagBook:
    return request.app[MP_STATE].world.tags


def _tag(data: dict[str, Any]) -> dict[str, Any]:
    tag = data.get("tag")
    if not isinstance(tag, dict):
        raise MpError(47001, 'hint: body must be {"tag": {...}}')
    return tag


async def tags_create(request: web.Request) -> web.Response:
    tag = _tag(await read_json(request))
    return plain({"tag": _book(request).create(tag.get("name"))})


async def tags_get(request: web.Request) -> web.Response:
    return plain({"tags": _book(request).listing()})


async def tags_update(request: web.Request) -> web.Response:
    tag = _tag(await read_json(request))
    _book(request).rename(tag.get("id"), tag.get("name"))
    return ok()


async def tags_delete(request: web.Request) -> web.Response:
    tag = _tag(await read_json(request))
    _book(request).delete(tag.get("id"))
    return ok()


def _openids(request: web.Request, data: dict[str, Any]) -> list[str]:
    openids = data.get("openid_list")
    if not isinstance(openids, list) or not 0 < len(openids) <= BATCH_MAX_OPENIDS:
        raise MpError(40032)
    world = request.app[MP_STATE].world
    for openid in openids:
        if not isinstance(openid, str) or world.follower(openid) is None:
            raise MpError(40003, f"hint: [{openid}]")
    return openids


async def batch_tagging(request: web.Request) -> web.Response:
    data = await read_json(request)
    openids = _openids(request, data)
    _book(request).tag(data.get("tagid"), openids)
    return ok()


async def batch_untagging(request: web.Request) -> web.Response:
    data = await read_json(request)
    openids = _openids(request, data)
    _book(request).untag(data.get("tagid"), openids)
    return ok()


async def tag_id_list(request: web.Request) -> web.Response:
    openid = (await read_json(request)).get("openid")
    if not isinstance(openid, str) or request.app[MP_STATE].world.follower(openid) is None:
        raise MpError(40003)
    return plain({"tagid_list": _book(request).tags_of(openid)})


async def tag_users(request: web.Request) -> web.Response:
    data = await read_json(request)
    after = data.get("next_openid") or ""
    page, next_openid = _book(request).members(data.get("tagid"), str(after))
    return plain({"count": len(page), "data": {"openid": page}, "next_openid": next_openid})


def _matchrule(data: dict[str, Any]) -> dict[str, Any]:
    rule = data.get("matchrule")
    if not isinstance(rule, dict):
        raise MpError(65304)
    given = {k: v for k, v in rule.items() if k in MATCH_RULES and v not in (None, "")}
    if not given:
        raise MpError(65304)
    if set(given) & PRIVATE_RULES:
        raise MpError(65320)
    if "tag_id" in given:
        try:
            given["tag_id"] = str(int(given["tag_id"]))
        except (TypeError, ValueError):
            raise MpError(45159, "hint: matchrule tag_id") from None
    return given


async def add_conditional(request: web.Request) -> web.Response:
    data = await read_json(request)
    world = request.app[MP_STATE].world
    menu = validate_menu(data)
    rule = _matchrule(data)
    if world.menu() is None:
        raise MpError(65303)
    return plain({"menuid": world.tags.add_menu(menu["button"], rule)})


async def del_conditional(request: web.Request) -> web.Response:
    data = await read_json(request)
    _book(request).delete_menu(data.get("menuid"))
    return ok()


async def try_match(request: web.Request) -> web.Response:
    user = (await read_json(request)).get("user_id")
    world = request.app[MP_STATE].world
    if not isinstance(user, str) or world.follower(user) is None:
        raise MpError(65302)
    default = world.menu()
    if default is None:
        raise MpError(46003)
    matched = world.tags.match(world.tags.tags_of(user))
    return plain({"button": matched.button if matched else default["button"]})
