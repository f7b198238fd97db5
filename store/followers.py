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


def record_follow(openid: str, now: datetime, scene: str | None = None) -> tuple[Follower, bool]:
    """Mark `openid` as following; returns (follower, first_time). The first scene that brought them is kept."""
    follower = get_or_create_follower(openid, now)
    first_time = follower.first_followed_at is None
    (
        Follower.update(
            subscribed=True,
            followed_at=now,
            unfollowed_at=None,
            first_followed_at=peewee.fn.COALESCE(Follower.first_followed_at, now),
            source_scene=peewee.fn.COALESCE(Follower.source_scene, scene),
        )
        .where(Follower.id == follower.id)
        .execute()
    )
    return Follower.get_by_id(follower.id), first_time


def record_unfollow(openid: str, now: datetime) -> None:
    """WeChat's rule: on unsubscribe, delete the follower's personal data. The row stays as a pseudonymous key
    (orders the merchant must keep refer to it); everything that describes the person is cleared."""
    Follower.update(subscribed=False, unfollowed_at=now, followed_at=None).where(Follower.openid == openid).execute()
