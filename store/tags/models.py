"""What the shop knows of its WeChat user tags: which segment or tier each tag mirrors and its WeChat id, who
carries it on WeChat (written right after each accepted batch, so a run that stops resumes where it stopped),
and each tag's personalised menu with the menuid WeChat gave it."""

from __future__ import annotations

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField

SEGMENT, TIER = "segment", "tier"


class WeChatTag(BaseModel):
    name = peewee.CharField(max_length=64, unique=True)  # the tag's name on WeChat (≤ 30 bytes)
    source = peewee.CharField(max_length=16)  # SEGMENT or TIER
    source_name = peewee.CharField(max_length=64)  # the segment's name, or the tier ("vip", "black_gold")
    tag_id = peewee.IntegerField(null=True)  # WeChat's id, once created there
    syncing = peewee.BooleanField(default=True)  # the nightly job and "sync all" keep it in step
    created_at = ShanghaiDateTimeField()
    synced_at = ShanghaiDateTimeField(null=True)  # the last run that left nothing pending
    last_error = peewee.CharField(max_length=255, null=True)

    class Meta:
        indexes = ((("source", "source_name"), True),)


class TaggedMember(BaseModel):
    """A follower carrying the tag on WeChat, as far as the shop's accepted calls say."""

    tag = peewee.IntegerField()  # WeChatTag.id
    openid = peewee.CharField(max_length=64)
    at = ShanghaiDateTimeField()

    class Meta:
        indexes = ((("tag", "openid"), True),)


class TagMenu(BaseModel):
    """The personalised menu of one tag: its buttons (JSON, `[[menu.button]]`'s shape) and, once published,
    WeChat's menuid."""

    tag = peewee.CharField(max_length=64, unique=True)  # WeChatTag.name
    buttons = peewee.TextField()
    menuid = peewee.CharField(max_length=32, null=True)
    updated_at = ShanghaiDateTimeField()
    published_at = ShanghaiDateTimeField(null=True)


TAG_MODELS = [WeChatTag, TaggedMember, TagMenu]
