"""Referral and channel QR codes (带参数二维码, WECHAT.md §2.5) and the followers they brought.

An operator creates a code for a channel (a poster, a store counter) or a referrer (a follower who earns
commission); WeChat gives back a ticket for the scene string. A follower who subscribes through it arrives with
`qrscene_<scene>`, one who already follows sends SCAN with `<scene>`: both are recorded as the follower's
`source_scene` by `store.members.followers.record_follow`, first touch wins (a later code never takes a follower from
the one that brought them). Counts per code come from that attribution (a referrer scanning their own code does
not count); spend for commission from members.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, write_transaction
from store.members.accounts import Member
from store.members.followers import Follower

CHANNEL, REFERRER = "channel", "referrer"
PURPOSES = (CHANNEL, REFERRER)
SCENE = re.compile(r"^[A-Za-z0-9_\-.]{1,64}$")
MAX_EXPIRE_S = 2592000  # 30 days: WeChat's limit for temporary codes
SHOW_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="


class QrCode(BaseModel):
    scene = peewee.CharField(max_length=64, unique=True)
    purpose = peewee.CharField(max_length=16)
    name = peewee.CharField(max_length=64)
    referrer_openid = peewee.CharField(max_length=64, null=True, index=True)
    ticket = peewee.CharField(max_length=255, default="")
    url = peewee.CharField(max_length=255, default="")
    expires_at = ShanghaiDateTimeField(null=True)  # None: a permanent code
    created_at = ShanghaiDateTimeField()


class QrCodeInvalid(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class SceneTaken(Exception):
    """Another code already uses this scene."""


@dataclass(frozen=True)
class QrRequest:
    purpose: str
    name: str
    scene: str
    referrer: str | None
    expire_seconds: int | None  # None: permanent (QR_LIMIT_STR_SCENE)

    def payload(self) -> dict[str, Any]:
        """The body of qrcode/create."""
        if self.expire_seconds is None:
            return {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": self.scene}}}
        return {
            "expire_seconds": self.expire_seconds,
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": self.scene}},
        }


def parse_request(body: Any) -> QrRequest:
    """Validate an admin request: `purpose` (channel | referrer), `name`, `referrer` (a follower's openid, for
    referrer codes), optional `scene` (generated when absent) and `expire_seconds` (a temporary code)."""
    if not isinstance(body, dict):
        raise QrCodeInvalid(["body must be a JSON object"])
    problems = []
    purpose = body.get("purpose")
    if purpose not in PURPOSES:
        problems.append(f"purpose must be one of {', '.join(PURPOSES)}")
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 64:
        problems.append("name must be a string of 1..64 characters")
    referrer = body.get("referrer")
    if purpose == REFERRER:
        if not isinstance(referrer, str) or not referrer:
            problems.append("a referrer code needs referrer (the follower's openid)")
        elif Follower.get_or_none(Follower.openid == referrer, Follower.subscribed == True) is None:  # noqa: E712
            problems.append(f"referrer {referrer!r} is not a follower")
    elif referrer is not None:
        problems.append("referrer is only for purpose referrer")
    scene = body.get("scene")
    if scene is None:
        scene = f"{'ref' if purpose == REFERRER else 'ch'}_{secrets.token_hex(5)}"
    elif not isinstance(scene, str) or not SCENE.match(scene) or scene.startswith("qrscene_"):
        problems.append("scene must be 1..64 letters, digits, _ - . (and not start with qrscene_)")
    expire = body.get("expire_seconds")
    if expire is not None and (
        isinstance(expire, bool) or not isinstance(expire, int) or not 60 <= expire <= MAX_EXPIRE_S
    ):
        problems.append(f"expire_seconds must be an integer 60..{MAX_EXPIRE_S} (omit it for a permanent code)")
    if problems:
        raise QrCodeInvalid(problems)
    return QrRequest(purpose, name.strip(), scene, referrer if purpose == REFERRER else None, expire)


def create_qrcode(request: QrRequest, create: Callable[[dict[str, Any]], dict[str, Any]], now: datetime) -> QrCode:
    """Reserve the scene, ask WeChat for the code (`create` is the gateway's qrcode/create), store its ticket.
    A failed WeChat call frees the scene again and re-raises."""
    try:
        with write_transaction():
            row = QrCode.create(
                scene=request.scene,
                purpose=request.purpose,
                name=request.name,
                referrer_openid=request.referrer,
                created_at=now,
            )
    except peewee.IntegrityError:
        raise SceneTaken(request.scene) from None
    try:
        answer = create(request.payload())
    except BaseException:
        with write_transaction():
            QrCode.delete().where(QrCode.id == row.id).execute()
        raise
    expires = answer.get("expire_seconds") if request.expire_seconds is not None else None
    row.ticket, row.url = str(answer.get("ticket", "")), str(answer.get("url", ""))
    row.expires_at = now + timedelta(seconds=int(expires)) if expires else None
    with write_transaction():
        row.save()
    return row


def image_url(ticket: str) -> str:
    return SHOW_URL + quote(ticket, safe="")


def qrcode_report() -> list[dict[str, Any]]:
    """Every code with its funnel: followers attributed, still following, buyers and their net paid spend."""
    counts = {
        scene: (followers, following or 0, buyers or 0, spend or 0)
        for scene, followers, following, buyers, spend in (
            Follower.select(
                Follower.source_scene,
                peewee.fn.COUNT(Follower.id),
                peewee.fn.SUM(peewee.Case(None, [(Follower.subscribed == True, 1)], 0)),  # noqa: E712
                peewee.fn.SUM(peewee.Case(None, [(Member.total_spend_fen > 0, 1)], 0)),
                peewee.fn.SUM(peewee.Case(None, [(Member.total_spend_fen > 0, Member.total_spend_fen)], 0)),
            )
            .join(QrCode, on=(QrCode.scene == Follower.source_scene))
            .join(Member, peewee.JOIN.LEFT_OUTER, on=(Member.openid == Follower.openid))
            .where(QrCode.referrer_openid.is_null() | (QrCode.referrer_openid != Follower.openid))  # no self-referral
            .group_by(Follower.source_scene)
            .tuples()
        )
    }
    report = []
    for code in QrCode.select().order_by(QrCode.id):
        followers, following, buyers, spend = counts.get(code.scene, (0, 0, 0, 0))
        report.append(
            {
                "scene": code.scene,
                "purpose": code.purpose,
                "name": code.name,
                "referrer": code.referrer_openid,
                "ticket": code.ticket,
                "url": code.url,
                "image_url": image_url(code.ticket) if code.ticket else None,
                "permanent": code.expires_at is None,
                "expires_at": code.expires_at,
                "created_at": code.created_at,
                "followers": int(followers),
                "following": int(following),
                "buyers": int(buyers),
                "paid_fen": int(spend),
            }
        )
    return report
