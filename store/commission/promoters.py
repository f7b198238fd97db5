"""Becoming a promoter: the follower gets a permanent referral QR code of their own (a `QrCode` of purpose
referrer, so the existing first-touch attribution and the channel report count what it brings). The code's row is
made at once; WeChat's ticket is fetched the first time the promoter's code page is opened (`ensure_ticket`),
so chat never waits on WeChat."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import peewee

from store.commission.models import SCENE_PREFIX, Promoter
from store.core.db import write_transaction
from store.members.followers import Follower
from store.members.qrcodes import REFERRER, QrCode, QrRequest


def promoter(openid: str) -> Promoter | None:
    return Promoter.get_or_none(Promoter.openid == openid)


def become_promoter(openid: str, now: datetime) -> tuple[Promoter, bool]:
    """The follower's promoter row and referral code; (row, True) when made now, (row, False) if they already were."""
    existing = promoter(openid)
    if existing is not None:
        return existing, False
    scene = f"{SCENE_PREFIX}{secrets.token_hex(6)}"
    try:
        with write_transaction():
            QrCode.create(scene=scene, purpose=REFERRER, name=f"推广员 {openid}"[:64], referrer_openid=openid,
                          created_at=now)  # fmt: skip
            return Promoter.create(openid=openid, scene=scene, created_at=now), True
    except peewee.IntegrityError:  # the same follower asked twice at once: the other request made it
        return Promoter.get(Promoter.openid == openid), False


def ensure_ticket(scene: str, create: Callable[[dict[str, Any]], dict[str, Any]]) -> QrCode | None:
    """The promoter's code with WeChat's ticket, asking WeChat (`create` is the gateway's qrcode/create) the
    first time; None for a scene that is no promoter's."""
    if Promoter.get_or_none(Promoter.scene == scene) is None:
        return None
    code = QrCode.get(QrCode.scene == scene)
    if not code.ticket:
        answer = create(QrRequest(REFERRER, code.name, scene, code.referrer_openid, None).payload())
        with write_transaction():
            QrCode.update(ticket=str(answer.get("ticket", "")), url=str(answer.get("url", ""))).where(
                QrCode.id == code.id, QrCode.ticket == ""
            ).execute()
        code = QrCode.get(QrCode.scene == scene)
    return code


def followers_brought(openid: str) -> int:
    """Followers whose first touch was this promoter's code (themselves excluded)."""
    return (
        Follower.select()
        .join(QrCode, on=(QrCode.scene == Follower.source_scene))
        .where(QrCode.referrer_openid == openid, Follower.openid != openid)
        .count()
    )
