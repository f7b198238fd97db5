"""The stored keyword rules written back as a rules file (`wxshop keywords export`), in the import format, so
export → edit → import round-trips: importing the output with `--replace` changes nothing.

The TOML is written here rather than by a library because the shape is fixed and small (strings, lists, inline
tables, a few scalars), and a rule reads best as the operator would write it: `reply = "…"` for one text reply.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from store.chat.keywords import RuleRecord, RuleSet
from store.core.clock import SHANGHAI

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def rules_toml(rule_set: RuleSet) -> str:
    """The whole document: standing replies first (top-level keys), then one `[[rules]]` table per rule."""
    lines = ["# Keyword rules exported by `wxshop keywords export`; `wxshop keywords import FILE` reads them back."]
    for kind in ("follow", "default"):
        if rule_set.standing.get(kind):
            lines.append(f"{kind}_reply = {_replies(rule_set.standing[kind])}")
    for rule in sorted(rule_set.rules, key=lambda r: (-r.priority, r.id)):
        lines += ["", *_rule(rule)]
    return "\n".join(lines) + "\n"


def _rule(rule: RuleRecord) -> list[str]:
    lines = [
        "[[rules]]",
        f"name = {_value(rule.name)}",
        f"keywords = {_value(list(rule.keywords))}",
        f"match = {_value(rule.match)}",
        f"reply = {_replies(rule.replies)}",
        f"priority = {rule.priority}",
        f"reply_mode = {_value(rule.reply_mode)}",
        f"enabled = {_value(rule.enabled)}",
    ]
    lines += ["overrides = true"] if rule.overrides else []
    lines += [f"{key} = {_value(when)}" for key, when in (("starts", rule.starts), ("ends", rule.ends)) if when]
    return lines


def _replies(replies: tuple[Any, ...] | list[Any]) -> str:
    """One reply as itself, several as an array; a text reply as its string."""
    shown = [r["content"] if isinstance(r, dict) and r.get("type") == "text" else r for r in replies]
    return _value(shown[0]) if len(shown) == 1 else _value(shown)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a TOML basic string (same escapes) except for DEL, which TOML wants escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, datetime):  # Asia/Shanghai local time, as the import reads a time without an offset
        return value.astimezone(SHANGHAI).replace(tzinfo=None).isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _value(key)
