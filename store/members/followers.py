"""Followers of the account: who follows now, since when, and where they came from."""

from __future__ import annotations

from datetime import datetime, timedelta

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, write_lock, write_transaction
from store.core.hot_sql import InsertIfNew


class Follower(BaseModel):
    openid = peewee.CharField(max_length=64, unique=True)
    subscribed = peewee.BooleanField(default=False)
    first_followed_at = ShanghaiDateTimeField(null=True)
    followed_at = ShanghaiDateTimeField(null=True)
    unfollowed_at = ShanghaiDateTimeField(null=True)
    source_scene = peewee.CharField(max_length=64, null=True, index=True)  # the QR scene that brought them
    birthday = peewee.CharField(max_length=5, null=True, index=True)  # "MM-DD" (indexed for the daily sweep)
    birthday_set_at = ShanghaiDateTimeField(null=True)
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


_INSERT_FIRST_FOLLOW = InsertIfNew(
    Follower,
    [
        Follower.openid, Follower.subscribed, Follower.first_followed_at, Follower.followed_at, Follower.source_scene,
        Follower.created_at,
    ],
    unique=Follower.openid,
)  # fmt: skip


def record_follow(openid: str, now: datetime, scene: str | None = None) -> tuple[Follower, bool]:
    """Mark `openid` as following; returns (follower, first_time). The first scene that brought them is kept.

    A first follow is one statement (an insert that does nothing if the row exists): no transaction, no read
    first. Anyone already known (a returning follower, a row made by another path) takes the read-then-update
    path in a write transaction."""
    with write_lock():
        new_id = _INSERT_FIRST_FOLLOW.execute(openid, True, now, now, scene, now)
    if new_id is not None:
        follower = Follower(
            id=new_id, openid=openid, subscribed=True, first_followed_at=now, followed_at=now, source_scene=scene,
            created_at=now,
        )  # fmt: skip
        return follower, True
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


BIRTHDAY_CHANGE_DAYS = 365


def set_birthday(openid: str, month: int, day: int, now: datetime) -> tuple[bool, str]:
    """Store the birthday; it can change at most once a year (so the yearly gift cannot be farmed).
    Returns (saved, what to tell the follower)."""
    value = f"{month:02d}-{day:02d}"
    with write_transaction():
        follower = Follower.get_or_none(Follower.openid == openid)
        if follower is None:
            follower = Follower.create(openid=openid, created_at=now)
        if follower.birthday == value:
            return True, f"您的生日已经是{month}月{day}日啦。"
        if follower.birthday and follower.birthday_set_at:
            next_change = follower.birthday_set_at + timedelta(days=BIRTHDAY_CHANGE_DAYS)
            if now < next_change:
                return False, f"生日一年只能修改一次，{next_change:%Y年%-m月%-d日}后可以再改。"
        Follower.update(birthday=value, birthday_set_at=now).where(Follower.id == follower.id).execute()
    return True, f"已把您的生日设为{month}月{day}日，生日当天会收到我们的生日礼～"
