"""Personalised menus per WeChat tag (个性化菜单), published after the default menu.

A tag's menu is what the operators saved in the console (published once, kept in `store.tags.menus`), else its
`[[menu.conditional]]` in config.toml. WeChat cannot edit a conditional menu: publishing adds the new one
(`menu/addconditional`, matchrule `tag_id`) and then deletes the old menuid, so followers never see a gap. The tag
is created on WeChat first when it has no id yet. `wxshop menu publish` checks every menu before sending any.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.process.config import Config
from bot.wechat.api import WeChatGateway
from bot.wechat.menu import MenuInvalid, build_menu
from scheduler.tag_jobs import wechat_tag_id
from store.core.wechat_errors import WeChatError
from store.tags.links import TagError, ensure_tier_tags, tag_named
from store.tags.menus import published_menuid, record_published, saved_menu, saved_menus

NO_SUCH_MENU = 65301


def tag_menu_draft(config: Config, tag: str) -> tuple[list[dict[str, Any]], str]:
    """The buttons to edit for `tag` and where they come from: "saved", "config", or "default" (the default
    menu, as a start)."""
    saved = saved_menu(tag)
    if saved is not None:
        return saved, "saved"
    if tag in config.tag_menus:
        return [dict(b) for b in config.tag_menus[tag]], "config"
    return [dict(b) for b in config.menu], "default"


def publish_tag_menu(gateway: WeChatGateway, tag_name: str, buttons: Sequence[Mapping[str, Any]],
                     now: datetime) -> str:  # fmt: skip
    """Check and publish `tag_name`'s menu; its new menuid. MenuInvalid / TagError before anything is sent."""
    menu = build_menu(buttons)
    tag = tag_named(tag_name)
    if tag is None:
        raise TagError(f"tag: no tag named {tag_name!r} (the tier tags, or a segment synced to a tag)")
    menuid = gateway.add_conditional_menu(menu, wechat_tag_id(gateway, tag))
    old = published_menuid(tag_name)
    record_published(tag_name, [dict(b) for b in buttons], menuid, now)
    if old and old != menuid:
        try:
            gateway.delete_conditional_menu(old)
        except WeChatError as exc:
            if exc.errcode != NO_SUCH_MENU:  # already gone: WeChat drops them with the default menu
                raise
    return menuid


def publish_menus(gateway: WeChatGateway, config: Config, now: datetime) -> list[str]:
    """The default menu, then every tag's menu; each line says what was published. Every menu is checked first
    (MenuInvalid listing every problem, TagError for a tag that does not exist): nothing is sent then."""
    if config.tags.tier_tags:
        ensure_tier_tags(now)
    menus: dict[str, list[dict[str, Any]]] = {tag: [dict(b) for b in bs] for tag, bs in config.tag_menus.items()}
    menus.update(saved_menus())
    problems: list[str] = []
    default: dict[str, Any] = {}
    try:
        default = build_menu(config.menu)
    except MenuInvalid as exc:
        problems += [f"[[menu.button]] {line}" for line in exc.errors]
    for tag, buttons in menus.items():
        try:
            build_menu(buttons)
        except MenuInvalid as exc:
            problems += [f"menu for tag {tag}: {line}" for line in exc.errors]
        if tag_named(tag) is None:
            problems.append(f"menu for tag {tag}: no such tag (the tier tags, or a segment synced to a tag)")
    if problems:
        raise MenuInvalid(problems)
    gateway.create_menu(default)
    lines = [f"menu published: {len(default['button'])} button(s)"]
    for tag, buttons in menus.items():
        menuid = publish_tag_menu(gateway, tag, buttons, now)
        lines.append(f"menu for tag {tag} published: {len(buttons)} button(s), menuid {menuid}")
    return lines
