"""Which segment or tier each WeChat tag mirrors: segments are marked "sync to tag" by the operator (admin API,
`[tags] segments`); the tier tags (VIP会员, 黑金会员) are built in."""

from __future__ import annotations

from datetime import datetime

import peewee

from store.core.db import write_transaction
from store.orders.pricing import Tier
from store.profiles.models import Segment
from store.tags.models import SEGMENT, TIER, TaggedMember, TagMenu, WeChatTag

TAG_NAME_BYTES = 30  # WeChat's limit (45158)
TIER_TAGS = (Tier.VIP, Tier.BLACK_GOLD)


class TagError(ValueError):
    """A tag the operator asked for that cannot be: the reason, in the operator's words."""


class UnknownSegment(TagError):
    pass


def check_tag_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise TagError("tag: a name is required")
    if len(name.encode("utf-8")) > TAG_NAME_BYTES:
        raise TagError(f"tag: {name!r} is {len(name.encode('utf-8'))} bytes, WeChat allows {TAG_NAME_BYTES}")
    return name


def mark_segment(segment: str, sync: bool, tag_name: str, now: datetime) -> WeChatTag:
    """Turn "sync to tag" on or off for a saved segment; the tag is named `tag_name` (default: the segment's)."""
    if Segment.get_or_none(Segment.name == segment) is None:
        raise UnknownSegment(f"segment: no segment named {segment!r}")
    name = check_tag_name(tag_name or segment)
    with write_transaction():
        row = WeChatTag.get_or_none(WeChatTag.source == SEGMENT, WeChatTag.source_name == segment)
        taken = WeChatTag.get_or_none(WeChatTag.name == name)
        if taken is not None and (row is None or taken.id != row.id):
            raise TagError(f"tag: {name!r} already mirrors {taken.source} {taken.source_name!r}")
        if row is None:
            WeChatTag.insert(name=name, source=SEGMENT, source_name=segment, syncing=sync, created_at=now).execute()
        elif row.tag_id is not None and row.name != name:
            raise TagError(f"tag: the segment already syncs to WeChat tag {row.name!r}; its name stays")
        else:
            WeChatTag.update(name=name, syncing=sync).where(WeChatTag.id == row.id).execute()
    return WeChatTag.get(WeChatTag.source == SEGMENT, WeChatTag.source_name == segment)


def ensure_tier_tags(now: datetime) -> None:
    """The built-in tags: one per tier above 普通会员, named as the tier is (VIP会员, 黑金会员)."""
    for tier in TIER_TAGS:
        row = {"name": tier.label, "source": TIER, "source_name": tier.value, "syncing": True, "created_at": now}
        WeChatTag.insert(row).on_conflict_ignore().execute()


def syncing_tags() -> list[WeChatTag]:
    return list(WeChatTag.select().where(WeChatTag.syncing == True).order_by(WeChatTag.id))  # noqa: E712


def tag_named(name: str) -> WeChatTag | None:
    return WeChatTag.get_or_none(WeChatTag.name == name)


def tag_of_segment(segment: str) -> WeChatTag | None:
    return WeChatTag.get_or_none(WeChatTag.source == SEGMENT, WeChatTag.source_name == segment)


def tag_rows() -> list[dict[str, object]]:
    """Every tag with the number of followers carrying it on WeChat and whether it has a personalised menu."""
    carried = dict(
        TaggedMember.select(TaggedMember.tag, peewee.fn.COUNT(TaggedMember.id)).group_by(TaggedMember.tag).tuples()
    )
    menus = {row.tag: row for row in TagMenu.select()}
    out: list[dict[str, object]] = []
    for tag in WeChatTag.select().order_by(WeChatTag.id):
        menu = menus.get(tag.name)
        out.append({
            "name": tag.name, "source": tag.source, "source_name": tag.source_name, "tag_id": tag.tag_id,
            "syncing": tag.syncing, "tagged": int(carried.get(tag.id, 0)), "synced_at": tag.synced_at,
            "last_error": tag.last_error, "menuid": menu.menuid if menu else None,
        })  # fmt: skip
    return out
