"""Followers of the account: who follows now, since when, and where they came from."""

from __future__ import annotations

from datetime import datetime

import peewee

from store.db import BaseModel, ShanghaiDateTimeField, write_transaction


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


def record_follow(openid: str, now: datetime, scene: str | None = None) -> tuple[Follower, bool]:
    """Mark `openid` as following; returns (follower, first_time). The first scene that brought them is kept."""
    try:
        return _record_follow(openid, now, scene)
    except peewee.IntegrityError:  # a concurrent first contact created the row: now it is an update
        return _record_follow(openid, now, scene)


def _record_follow(openid: str, now: datetime, scene: str | None) -> tuple[Follower, bool]:
    with write_transaction():
        follower = Follower.get_or_none(Follower.openid == openid)
        if follower is None:
            follower = Follower.create(
                openid=openid, subscribed=True, first_followed_at=now, followed_at=now, source_scene=scene,
                created_at=now,
            )  # fmt: skip
            return follower, True
        first_time = follower.first_followed_at is None
        follower.subscribed, follower.followed_at, follower.unfollowed_at = True, now, None
        follower.first_followed_at = follower.first_followed_at or now
        follower.source_scene = follower.source_scene or scene
        follower.save()
        return follower, first_time


def record_unfollow(openid: str, now: datetime) -> None:
    """WeChat's rule: on unsubscribe, delete the follower's personal data. The row stays as a pseudonymous key
    (orders the merchant must keep refer to it); everything that describes the person is cleared."""
    Follower.update(subscribed=False, unfollowed_at=now, followed_at=None).where(Follower.openid == openid).execute()
