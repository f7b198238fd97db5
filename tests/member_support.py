"""Helpers for the members tests: settings, payments and refunds recorded as checkout records them, notices."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from store.core.clock import SHANGHAI
from store.core.db import write_transaction
from store.members.accounts import MemberRules, record_payment, record_refund
from store.members.followers import Follower, record_follow
from store.members.settings import MemberSettings
from store.members.templates import seed_templates
from store.outbox.notices import Notice

START = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
RULES = MemberRules()
SETTINGS = MemberSettings(ledger_salt="wxd0000000000sandbox")


def pay(openid: str, fen: int, ref: str, now: datetime, rules: MemberRules = RULES) -> int:
    """A paid order as store.orders.payments records it: spend, points, tier (and its notice) in one transaction."""
    with write_transaction():
        return record_payment(openid, f"O{ref}", fen, ref, now, rules)


def refund(openid: str, fen: int, paid_fen: int, ref: str, now: datetime, rules: MemberRules = RULES) -> int:
    with write_transaction():
        return record_refund(openid, f"O{ref}", fen, f"R{ref}", now, rules, paid_fen=paid_fen, refunded_before_fen=0)


def follower(openid: str, now: datetime, birthday: str | None = None) -> None:
    record_follow(openid, now)
    if birthday:
        Follower.update(birthday=birthday, birthday_set_at=now).where(Follower.openid == openid).execute()


def notices(kind: str, openid: str | None = None) -> list[dict[str, Any]]:
    query = Notice.select().where(Notice.kind == kind).order_by(Notice.id)
    if openid is not None:
        query = query.where(Notice.openid == openid)
    return [{"openid": n.openid, "dedup": n.dedup_key, **json.loads(n.fields)} for n in query]


def seed(now: datetime = START) -> None:
    seed_templates(SETTINGS.template_codes(), now)
