"""Coupon templates declared in config (`[[coupons]]`), for keyword rules and campaigns to name by code.

They are ordinary `CouponTemplate` rows: checked whole when the config is read (every problem listed), and
created at start-up when missing (INSERT … ON CONFLICT DO NOTHING). A template that exists already is left as it
is, so what operators change through the admin API (switching it off, its stock running down) survives restarts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.core.db import write_transaction
from store.promotions.coupons import TEMPLATE_CODE, CouponTemplate, TemplateInvalid, validate_template

_FIELDS = {"code": str, "title": str, "kind": str, "value": int, "threshold_fen": int, "valid_days": int, "stock": int}


@dataclass(frozen=True)
class ConfiguredTemplate:
    code: str
    kind: str
    value: int
    title: str = ""
    threshold_fen: int = 0
    valid_days: int = 30
    stock: int | None = None


def parse_configured_templates(entries: Iterable[Any]) -> tuple[ConfiguredTemplate, ...]:
    """`[[coupons]]` tables as templates, or `TemplateInvalid` naming every problem (`coupons[2] (D11): …`)."""
    parsed, problems, seen = [], [], set()
    for i, entry in enumerate(entries, start=1):
        where = f"coupons[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: expected a table")
            continue
        where = f"{where} ({entry.get('code', '?')})"
        mine = [f"{where}: {key}: unknown field" for key in sorted(set(entry) - set(_FIELDS))]
        mine += [f"{where}: {key}: missing" for key in ("code", "kind", "value") if key not in entry]
        for key, kind in _FIELDS.items():
            value = entry.get(key)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                mine.append(f"{where}: {key}: expected {'a whole number' if kind is int else 'text'}")
        if mine:
            problems += mine
            continue
        template = ConfiguredTemplate(**{k: entry[k] for k in _FIELDS if k in entry})
        mine = validate_template(template.kind, template.value, template.threshold_fen, template.valid_days,
                                 template.stock)  # fmt: skip
        if not TEMPLATE_CODE.fullmatch(template.code):
            mine.insert(0, "code must be 1-32 letters, digits, '_' or '-', starting with a letter or digit")
        if len(template.title) > 64:
            mine.append("title must be at most 64 characters")
        if template.code in seen:
            mine.append("the code is declared twice")
        seen.add(template.code)
        problems += [f"{where}: {p}" for p in mine]
        parsed.append(template)
    if problems:
        raise TemplateInvalid(problems)
    return tuple(parsed)


def seed_configured_templates(templates: Iterable[ConfiguredTemplate], now: datetime) -> list[str]:
    """Create the configured templates that are missing; returns the codes it created."""
    wanted = {t.code: t for t in templates}
    if not wanted:
        return []
    with write_transaction():
        existing = {code for (code,) in CouponTemplate.select(CouponTemplate.code)
                    .where(CouponTemplate.code.in_(list(wanted))).tuples()}  # fmt: skip
        missing = [t for code, t in wanted.items() if code not in existing]
        for t in missing:  # ON CONFLICT DO NOTHING: a second process starting at once is harmless
            CouponTemplate.insert(
                code=t.code, title=t.title, kind=t.kind, value=t.value, threshold_fen=t.threshold_fen,
                valid_days=t.valid_days, stock=t.stock, created_at=now,
            ).on_conflict_ignore().execute()  # fmt: skip
    return [t.code for t in missing]
