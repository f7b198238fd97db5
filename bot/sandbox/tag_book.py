"""The emulated account's user tags and personalised (conditional) menus, kept beside the `World`.

WeChat's rules for tags (用户标签管理): at most 100 tags an account creates, ids from 100 up (0, 1 and 2 are
WeChat's own; 2 is 星标组), names unique and ≤ 30 bytes, ≤ 20 tags on one follower, ≤ 50 openids per batch
call, a tag with more than 100,000 followers cannot be deleted. Conditional menus match newest first on their
`matchrule`; the emulator knows a follower's tags only, so a rule naming `client_platform_type` never matches.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.mp_errors import MpError

MAX_TAGS = 100
FIRST_TAG_ID = 100
RESERVED_TAGS = {0: "", 1: "", 2: "星标组"}  # WeChat's own tags: 2 is shown, 0 and 1 are not
TAG_NAME_BYTES = 30
MAX_TAGS_PER_USER = 20
BATCH_MAX_OPENIDS = 50
DELETE_MAX_FOLLOWERS = 100_000
TAG_USERS_PAGE = 10_000


@dataclass
class _Tag:
    id: int
    name: str
    members: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ConditionalMenu:
    menuid: str
    button: list[dict[str, Any]]
    matchrule: dict[str, Any]


class TagBook:
    """Tags, who carries them, and the conditional menus; every method is atomic (one lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tags: dict[int, _Tag] = {2: _Tag(2, RESERVED_TAGS[2])}
        self._next_id = FIRST_TAG_ID
        self._menus: list[ConditionalMenu] = []  # oldest first
        self._next_menuid = 400_000_001

    # -- tags --------------------------------------------------------------------------------------------------

    def _check_name(self, name: Any, except_id: int | None = None) -> str:
        if not isinstance(name, str) or not name.strip():
            raise MpError(45157, "hint: tag name is empty")
        if len(name.encode("utf-8")) > TAG_NAME_BYTES:
            raise MpError(45158)
        if any(t.name == name and t.id != except_id for t in self._tags.values()):
            raise MpError(45157, "hint: tag name already exists")
        return name

    def create(self, name: Any) -> dict[str, Any]:
        with self._lock:
            name = self._check_name(name)
            if sum(1 for t in self._tags if t not in RESERVED_TAGS) >= MAX_TAGS:
                raise MpError(45056)
            tag = _Tag(self._next_id, name)
            self._next_id += 1
            self._tags[tag.id] = tag
            return {"id": tag.id, "name": tag.name}

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"id": t.id, "name": t.name, "count": len(t.members)} for t in self._tags.values()]

    def _own(self, tag_id: Any) -> _Tag:
        if isinstance(tag_id, bool) or not isinstance(tag_id, int):
            raise MpError(45159)
        if tag_id in RESERVED_TAGS:
            raise MpError(45058)
        tag = self._tags.get(tag_id)
        if tag is None:
            raise MpError(45159)
        return tag

    def rename(self, tag_id: Any, name: Any) -> None:
        with self._lock:
            tag = self._own(tag_id)
            tag.name = self._check_name(name, except_id=tag.id)

    def delete(self, tag_id: Any) -> None:
        with self._lock:
            tag = self._own(tag_id)
            if len(tag.members) > DELETE_MAX_FOLLOWERS:
                raise MpError(45057)
            del self._tags[tag.id]

    def _taggable(self, tag_id: Any) -> _Tag:
        tag = self._tags.get(tag_id) if isinstance(tag_id, int) and not isinstance(tag_id, bool) else None
        if tag is None:
            raise MpError(45159)
        return tag

    def tag(self, tag_id: Any, openids: list[str]) -> None:
        """All or nothing: one follower over 20 tags refuses the whole batch (45059)."""
        with self._lock:
            tag = self._taggable(tag_id)
            for openid in openids:
                if openid not in tag.members and self._count_locked(openid) >= MAX_TAGS_PER_USER:
                    raise MpError(45059)
            tag.members.update(openids)

    def untag(self, tag_id: Any, openids: list[str]) -> None:
        with self._lock:
            self._taggable(tag_id).members.difference_update(openids)

    def _count_locked(self, openid: str) -> int:
        return sum(1 for t in self._tags.values() if openid in t.members)

    def tags_of(self, openid: str) -> list[int]:
        with self._lock:
            return [t.id for t in self._tags.values() if openid in t.members]

    def members(self, tag_id: Any, after: str = "") -> tuple[list[str], str]:
        """One page (10,000) of the tag's followers after `after`, and the next_openid ("" at the end)."""
        with self._lock:
            ordered = sorted(self._taggable(tag_id).members)
        if after:
            ordered = [o for o in ordered if o > after]
        page = ordered[:TAG_USERS_PAGE]
        return page, (page[-1] if len(ordered) > TAG_USERS_PAGE else "")

    # -- conditional menus -------------------------------------------------------------------------------------

    def add_menu(self, button: list[dict[str, Any]], matchrule: dict[str, Any]) -> str:
        with self._lock:
            if "tag_id" in matchrule and int(matchrule["tag_id"]) not in self._tags:
                raise MpError(45159, "hint: matchrule tag_id")
            menuid = str(self._next_menuid)
            self._next_menuid += 1
            self._menus.append(ConditionalMenu(menuid, copy.deepcopy(button), dict(matchrule)))
            return menuid

    def delete_menu(self, menuid: Any) -> None:
        with self._lock:
            kept = [m for m in self._menus if m.menuid != str(menuid)]
            if len(kept) == len(self._menus):
                raise MpError(65301)
            self._menus = kept

    def clear_menus(self) -> None:
        with self._lock:
            self._menus = []

    def menus(self) -> list[ConditionalMenu]:
        with self._lock:
            return [copy.deepcopy(m) for m in self._menus]

    def match(self, tag_ids: Iterable[int]) -> ConditionalMenu | None:
        """The newest conditional menu whose every rule holds for a follower carrying `tag_ids`."""
        held = {str(t) for t in tag_ids}
        with self._lock:
            for menu in reversed(self._menus):
                rule = menu.matchrule
                if set(rule) - {"tag_id"}:
                    continue
                if str(rule.get("tag_id")) in held:
                    return copy.deepcopy(menu)
        return None
