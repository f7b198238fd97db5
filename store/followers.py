"""Followers of the account: who follows now, since when, and where they came from."""

from __future__ import annotations

from datetime import datetime

import peewee

from store.db import BaseModel, ShanghaiDateTimeField


class Follower(BaseModel):
    openid = peewee.CharField(max_length=64, unique=True)
    subscribed = peewee.BooleanField(default=False)
    first_followed_at = ShanghaiDateTimeField(null=True)
    followed_at = ShanghaiDateTimeField(null=True)
    unfollowed_at = ShanghaiDateTimeField(null=True)
    source_scene = peewee.CharField(max_length=64, null=True)
    created_at = ShanghaiDateTimeField()


def get_or_create_follower(openid: str, now: datetime) -> Follower:
    """Race-safe: concurrent first contacts from one openid end with one row."""
    try:
        return Follower.get(Follower.openid == openid)
    except Follower.DoesNotExist:
        pass
    try:
        with Follower._meta.database.atomic():
            return Follower.create(openid=openid, created_at=now)
    except peewee.IntegrityError:
        return Follower.get(Follower.openid == openid)
