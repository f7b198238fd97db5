"""What a sync run has to do and what it has done: the followers a tag should carry (the segment's or tier's
members on tonight's profiles who follow the account) against those WeChat has accepted. Each accepted batch is
written at once, so a run that stops (a crash, WeChat's quota, the run's batch budget) resumes with what is left;
tagging someone twice is harmless on WeChat, so a batch sent but not yet recorded is simply sent again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import peewee

from store.core.db import write_transaction
from store.members.followers import Follower
from store.profiles.models import MemberProfile, Segment
from store.profiles.segments import members_of, parse_rule
from store.tags.models import SEGMENT, TaggedMember, WeChatTag


@dataclass(frozen=True)
class Pending:
    add: list[str]
    remove: list[str]


def wanted(tag: WeChatTag, now: datetime) -> set[str]:
    """The followers who should carry `tag` now (empty when its segment is gone)."""
    if tag.source == SEGMENT:
        segment = Segment.get_or_none(Segment.name == tag.source_name)
        if segment is None:
            return set()
        query = members_of(parse_rule(json.loads(segment.rule)), now)
    else:
        query = MemberProfile.select().where(MemberProfile.tier == tag.source_name)
    following = Follower.select(Follower.openid).where(Follower.subscribed == True)  # noqa: E712
    rows = query.select(MemberProfile.openid).where(MemberProfile.openid.in_(following)).tuples()
    return {openid for (openid,) in rows}


def still_following(openids: list[str]) -> set[str]:
    rows = Follower.select(Follower.openid).where(Follower.openid.in_(openids), Follower.subscribed == True)  # noqa: E712
    return {openid for (openid,) in rows.tuples()}


def carried(tag: WeChatTag) -> set[str]:
    return {openid for (openid,) in TaggedMember.select(TaggedMember.openid).where(TaggedMember.tag == tag.id).tuples()}


def pending(tag: WeChatTag, now: datetime) -> Pending:
    want, have = wanted(tag, now), carried(tag)
    return Pending(add=sorted(want - have), remove=sorted(have - want))


def record_tagged(tag: WeChatTag, openids: list[str], now: datetime) -> None:
    with write_transaction():
        rows = [{"tag": tag.id, "openid": openid, "at": now} for openid in openids]
        TaggedMember.insert_many(rows).on_conflict_ignore().execute()


def record_untagged(tag: WeChatTag, openids: list[str]) -> None:
    with write_transaction():
        TaggedMember.delete().where(TaggedMember.tag == tag.id, TaggedMember.openid.in_(openids)).execute()


def set_tag_id(tag: WeChatTag, tag_id: int | None) -> None:
    """WeChat's id for the tag; None when WeChat no longer has it (nobody carries it then: start over)."""
    with write_transaction():
        WeChatTag.update(tag_id=tag_id).where(WeChatTag.id == tag.id).execute()
        if tag_id is None:
            TaggedMember.delete().where(TaggedMember.tag == tag.id).execute()
    tag.tag_id = tag_id


def finish_run(tag: WeChatTag, done: bool, error: str | None, now: datetime) -> None:
    fields: dict[peewee.Field, object] = {WeChatTag.last_error: error[:255] if error else None}
    if done:
        fields[WeChatTag.synced_at] = now
    with write_transaction():
        WeChatTag.update(fields).where(WeChatTag.id == tag.id).execute()
