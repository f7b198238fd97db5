"""Operator keyword rules and the account's standing replies (follow reply, default reply), as stored.

The hot path never reads these tables: every `serve` process keeps a compiled matcher in memory and rebuilds it
when `rules_version` moves (announced over Redis pub/sub by whoever changed the rules).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, write_transaction


class KeywordRule(BaseModel):
    name = peewee.CharField(max_length=100, unique=True)
    keywords = peewee.TextField()  # JSON list of strings
    match = peewee.CharField(max_length=10)
    priority = peewee.IntegerField(default=0)
    enabled = peewee.BooleanField(default=True)
    starts = ShanghaiDateTimeField(null=True)
    ends = ShanghaiDateTimeField(null=True)
    reply_mode = peewee.CharField(max_length=10, default="all")
    replies = peewee.TextField()  # JSON list of reply payloads
    overrides = peewee.BooleanField(default=False)  # answers even where a built-in reads the follower's own data
    updated_at = ShanghaiDateTimeField()


class StandingReply(BaseModel):
    """`follow` and `default`: what the account says on a follow, and when nothing else answers."""

    kind = peewee.CharField(max_length=20, unique=True)
    replies = peewee.TextField()
    updated_at = ShanghaiDateTimeField()


class RulesVersion(BaseModel):
    """One row: bumped in the same transaction as any change, so readers can tell a stale cache."""

    version = peewee.IntegerField(default=0)


@dataclass(frozen=True)
class RuleRecord:
    """A rule as the rest of the system sees it: plain values, JSON already decoded."""

    id: int
    name: str
    keywords: tuple[str, ...]
    match: str
    priority: int
    enabled: bool
    starts: datetime | None
    ends: datetime | None
    reply_mode: str
    replies: tuple[Any, ...]
    overrides: bool = False


@dataclass(frozen=True)
class RuleSet:
    version: int
    rules: tuple[RuleRecord, ...]
    standing: dict[str, tuple[Any, ...]]


def load_rule_set() -> RuleSet:
    rules = tuple(
        RuleRecord(
            id=row.id,
            name=row.name,
            keywords=tuple(json.loads(row.keywords)),
            match=row.match,
            priority=row.priority,
            enabled=row.enabled,
            starts=row.starts,
            ends=row.ends,
            reply_mode=row.reply_mode,
            replies=tuple(json.loads(row.replies)),
            overrides=row.overrides,
        )
        for row in KeywordRule.select().order_by(KeywordRule.id)
    )
    standing = {row.kind: tuple(json.loads(row.replies)) for row in StandingReply.select()}
    return RuleSet(current_version(), rules, standing)


def current_version() -> int:
    row = RulesVersion.select().first()
    return row.version if row else 0


def _bump() -> int:
    if RulesVersion.update(version=RulesVersion.version + 1).execute() == 0:
        RulesVersion.create(version=1)
    return current_version()


def save_rules(
    rules: Iterable[dict[str, Any]],
    standing: dict[str, list[Any]],
    now: datetime,
    *,
    replace: bool = False,
) -> tuple[int, int, int]:
    """Upsert rules by name (all or nothing); with `replace`, delete rules not given. Returns
    (created, updated, deleted) and bumps the version once."""
    created = updated = deleted = 0
    with write_transaction():
        names = []
        for rule in rules:
            names.append(rule["name"])
            values = _columns(rule, now)
            if KeywordRule.update(**values).where(KeywordRule.name == rule["name"]).execute():
                updated += 1
            else:
                KeywordRule.create(name=rule["name"], **values)
                created += 1
        if replace:
            deleted = KeywordRule.delete().where(KeywordRule.name.not_in(names)).execute() if names else (
                KeywordRule.delete().execute()
            )
        for kind, replies in standing.items():
            payload = json.dumps(replies, ensure_ascii=False)
            if not StandingReply.update(replies=payload, updated_at=now).where(StandingReply.kind == kind).execute():
                StandingReply.create(kind=kind, replies=payload, updated_at=now)
        _bump()
    return created, updated, deleted


class RuleExists(Exception):
    """Another rule has that name already."""


def create_rule(rule: dict[str, Any], now: datetime) -> None:
    """Add one rule (a validated rule dict); `RuleExists` when the name is taken (the unique name decides a race)."""
    try:
        with write_transaction():
            KeywordRule.create(name=rule["name"], **_columns(rule, now))
            _bump()
    except peewee.IntegrityError:
        raise RuleExists(rule["name"]) from None


def replace_rule(name: str, rule: dict[str, Any], now: datetime) -> bool:
    """Replace the rule called `name` with `rule` (which may rename it); False when there is no such rule,
    `RuleExists` when the new name is another rule's."""
    try:
        with write_transaction():
            changed = KeywordRule.update(name=rule["name"], **_columns(rule, now)).where(KeywordRule.name == name)
            if not changed.execute():
                return False
            _bump()
    except peewee.IntegrityError:
        raise RuleExists(rule["name"]) from None
    return True


def set_rule_enabled(name: str, enabled: bool, now: datetime) -> bool:
    """Switch a rule on or off; False when there is no such rule."""
    with write_transaction():
        query = KeywordRule.update(enabled=enabled, updated_at=now).where(KeywordRule.name == name)
        if not query.execute():
            return False
        _bump()
    return True


def delete_rule(name: str) -> bool:
    with write_transaction():
        gone = KeywordRule.delete().where(KeywordRule.name == name).execute()
        if gone:
            _bump()
    return bool(gone)


def _columns(rule: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "keywords": json.dumps(list(rule["keywords"]), ensure_ascii=False),
        "match": rule["match"],
        "priority": rule.get("priority", 0),
        "enabled": rule.get("enabled", True),
        "starts": rule.get("starts"),
        "ends": rule.get("ends"),
        "reply_mode": rule.get("reply_mode", "all"),
        "replies": json.dumps(list(rule["replies"]), ensure_ascii=False),
        "overrides": rule.get("overrides", False),
        "updated_at": now,
    }
