"""The custom menu from `[[menu.button]]`, checked against WeChat's limits before it is sent (WECHAT.md §2.4):
1–3 buttons, 1–5 sub-buttons each, names ≤ 16 bytes (top) / 60 bytes (sub), keys ≤ 128 bytes, URLs ≤ 1024 bytes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

KEY_TYPES = {
    "click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin",
    "location_select",
}  # fmt: skip
URL_TYPES = {"view"}
OTHER_TYPES = {"miniprogram": ("url", "appid", "pagepath"), "media_id": ("media_id",), "article_id": ("article_id",)}
MAX_BUTTONS = 3
MAX_SUB_BUTTONS = 5
TOP_NAME_BYTES = 16
SUB_NAME_BYTES = 60
KEY_BYTES = 128
URL_BYTES = 1024
# The same numbers for the console's editor, which checks them as the operator types (server checks again).
LIMITS = {"buttons": MAX_BUTTONS, "sub_buttons": MAX_SUB_BUTTONS, "top_name_bytes": TOP_NAME_BYTES,
          "sub_name_bytes": SUB_NAME_BYTES, "key_bytes": KEY_BYTES, "url_bytes": URL_BYTES,
          "key_types": sorted(KEY_TYPES), "url_types": sorted(URL_TYPES)}  # fmt: skip


class MenuInvalid(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _size(text: Any) -> int:
    return len(str(text).encode("utf-8"))


def build_menu(buttons: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The JSON body for `menu/create`, or MenuInvalid listing every problem with its button."""
    errors: list[str] = []
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        errors.append(f"expected 1 to {MAX_BUTTONS} buttons, got {len(buttons)}")
    out = []
    for i, button in enumerate(buttons, start=1):
        where = f"button {i} ({button.get('name', '?')})"
        subs = button.get("sub_button") or []
        if subs:
            if not 1 <= len(subs) <= MAX_SUB_BUTTONS:
                errors.append(f"{where}: expected 1 to {MAX_SUB_BUTTONS} sub_buttons, got {len(subs)}")
            errors += _name(button, where, TOP_NAME_BYTES)
            children = []
            for j, sub in enumerate(subs, start=1):
                sub_where = f"{where} sub_button {j} ({sub.get('name', '?')})"
                errors += _name(sub, sub_where, SUB_NAME_BYTES) + _action(sub, sub_where)
                children.append(_clean(sub))
            out.append({"name": button.get("name"), "sub_button": children})
        else:
            errors += _name(button, where, TOP_NAME_BYTES) + _action(button, where)
            out.append(_clean(button))
    if errors:
        raise MenuInvalid(errors)
    return {"button": out}


def _name(button: Mapping[str, Any], where: str, limit: int) -> list[str]:
    name = button.get("name")
    if not isinstance(name, str) or not name:
        return [f"{where}: name is required"]
    return [f"{where}: name is {_size(name)} bytes, WeChat allows {limit}"] if _size(name) > limit else []


def _action(button: Mapping[str, Any], where: str) -> list[str]:
    kind = button.get("type")
    if kind in KEY_TYPES:
        key = button.get("key")
        if not key:
            return [f"{where}: type {kind} needs a key"]
        return [f"{where}: key is {_size(key)} bytes, WeChat allows {KEY_BYTES}"] if _size(key) > KEY_BYTES else []
    if kind in URL_TYPES:
        url = button.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return [f"{where}: type view needs an http(s) url"]
        return [f"{where}: url is {_size(url)} bytes, WeChat allows {URL_BYTES}"] if _size(url) > URL_BYTES else []
    if kind in OTHER_TYPES:
        missing = [f for f in OTHER_TYPES[kind] if not button.get(f)]
        return [f"{where}: type {kind} needs {', '.join(missing)}"] if missing else []
    return [f"{where}: unknown type {kind!r}"]


def _clean(button: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in button.items() if k != "sub_button"}


def menu_buttons(menu: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The buttons of a `menu/get` answer in the shape build_menu takes: empty `sub_button` lists dropped."""
    buttons = []
    for button in menu.get("button") or []:
        subs = [dict(sub) for sub in button.get("sub_button") or []]
        top = {k: v for k, v in button.items() if k != "sub_button"}
        buttons.append({"name": top.get("name"), "sub_button": [_clean(s) for s in subs]} if subs else top)
    return buttons
