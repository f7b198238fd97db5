"""The custom menu in the admin API, for the console's menu editor (auth and errors from the admin sub-app).

* `GET /admin/api/menu` — `{"menu": {"button": [...]}, "source": "wechat" | "config", "limits": {...},
  "keys": {"BROWSE": "browse", ...}}`: the menu WeChat has now (`menu/get`), or `[[menu.button]]` from config.toml
  while the account has none; WeChat's limits (bot.wechat.menu.LIMITS) for checking as the operator types; the
  CLICK keys the bot answers, with their intents.
* `POST /admin/api/menu` — body `{"button": [...]}`: checked by the same build_menu as `wxshop menu push` (422 with
  every problem, nothing sent), then published with `menu/create` (WeChat refusing it → 502).
* `?tag=NAME` on both: that tag's personalised menu (bot/wechat/tag_menus.py): GET gives the saved one, else its
  `[[menu.conditional]]`, else the default menu to start from (`source` saved / config / default); POST checks it
  the same way and publishes it with `menu/addconditional` (422 for a tag that does not exist). Every GET lists
  the `tags` there are, for the editor's tag selector.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.admin.api import error
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from bot.wechat.gateway import WECHAT
from bot.wechat.menu import LIMITS, MenuInvalid, build_menu, menu_buttons
from bot.wechat.tag_menus import publish_tag_menu, tag_menu_draft
from dialogs import black_gold_answers
from dialogs.intents import MENU_KEYS
from store.tags.links import TagError, tag_named, tag_rows

KEYS = {**MENU_KEYS, black_gold_answers.MENU_KEY: black_gold_answers.INTENT}


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_get("/api/menu", menu_view)
    admin.router.add_post("/api/menu", menu_publish)


def _is_button(button: Any) -> bool:
    subs = button.get("sub_button", []) if isinstance(button, dict) else None
    return isinstance(subs, list) and all(isinstance(sub, dict) for sub in subs)


async def menu_view(request: web.Request) -> web.Response:
    app = request.config_dict
    tag = request.query.get("tag", "")
    tags = [str(row["name"]) for row in await run_blocking(app, tag_rows)]
    if tag:
        if tag not in tags:
            return error(404, f"no tag named {tag!r}")
        buttons, source = await run_blocking(app, tag_menu_draft, app[CONFIG], tag)
    else:
        published = await run_blocking(app, app[WECHAT].get_menu)
        if published:
            source, buttons = "wechat", menu_buttons(published)
        else:
            source, buttons = "config", [dict(button) for button in app[CONFIG].menu]
    body: dict[str, Any] = {"menu": {"button": buttons}, "source": source, "limits": LIMITS, "keys": KEYS,
                            "tag": tag, "tags": tags}  # fmt: skip
    return web.json_response(body, dumps=lambda value: json.dumps(value, ensure_ascii=False, default=str))


async def menu_publish(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return error(400, "body is not JSON")
    buttons = body.get("button") if isinstance(body, dict) else None
    if not isinstance(buttons, list) or not all(_is_button(b) for b in buttons):
        return error(400, 'body must be {"button": [ {...}, ... ]}')
    try:
        menu = build_menu(buttons)
    except MenuInvalid as exc:
        return error(422, "the menu breaks WeChat's limits; nothing was published", problems=exc.errors)
    app = request.config_dict
    tag = request.query.get("tag", "")
    if tag:
        if await run_blocking(app, tag_named, tag) is None:
            return error(422, f"no tag named {tag!r}; nothing was published")
        try:
            now = app[RESOURCES].clock.now()
            menuid = await run_blocking(app, publish_tag_menu, app[WECHAT], tag, buttons, now)
        except TagError as exc:
            return error(422, str(exc))
        return web.json_response({"published": len(menu["button"]), "menu": menu, "tag": tag, "menuid": menuid})
    await run_blocking(app, app[WECHAT].create_menu, menu)
    return web.json_response({"published": len(menu["button"]), "menu": menu})
