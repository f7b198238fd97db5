"""Each tag's personalised menu as the operators last saved it, and the menuid WeChat gave it when published
(WeChat has no "edit": a new version is added, then the old menuid deleted)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from store.core.db import write_transaction
from store.tags.models import TagMenu


def saved_menu(tag: str) -> list[dict[str, Any]] | None:
    row = TagMenu.get_or_none(TagMenu.tag == tag)
    return None if row is None else list(json.loads(row.buttons))


def saved_menus() -> dict[str, list[dict[str, Any]]]:
    return {row.tag: list(json.loads(row.buttons)) for row in TagMenu.select().order_by(TagMenu.id)}


def published_menuid(tag: str) -> str | None:
    row = TagMenu.get_or_none(TagMenu.tag == tag)
    return None if row is None else row.menuid


def record_published(tag: str, buttons: Sequence[Mapping[str, Any]], menuid: str, now: datetime) -> None:
    """The menu WeChat accepted for `tag`, with its new menuid (the old one is deleted by the caller)."""
    text = json.dumps(list(buttons), ensure_ascii=False)
    with write_transaction():
        updated = (
            TagMenu.update(buttons=text, menuid=menuid, updated_at=now, published_at=now)
            .where(TagMenu.tag == tag)
            .execute()
        )
        if not updated:
            TagMenu.insert(tag=tag, buttons=text, menuid=menuid, updated_at=now, published_at=now).execute()
