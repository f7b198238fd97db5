"""Keyword rules as operators write them (TOML file or admin-API JSON), validated whole before anything is saved.

Every problem is reported with the rule it belongs to and the field, e.g.
`rules[3] "双十一": reply.type: expected one of text, news, product, coupon`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dialogs.matcher import Matcher, Rule, RuleError, UnsafePattern
from store.core.clock import SHANGHAI

MATCH_MODES = ("exact", "contains", "regex")
REPLY_TYPES = ("text", "news", "product", "coupon")
REPLY_MODES = ("all", "random")
RULE_KEYS = {
    "name", "keywords", "match", "reply", "priority", "reply_mode", "starts", "ends", "enabled", "overrides",
}
MAX_TEXT = 2000  # WeChat shows about 2,048 bytes of a passive text reply; keep well inside
MAX_REPLIES = 5


class RulesInvalid(Exception):
    """The file has problems; `errors` lists every one, each naming its rule and field."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the rules:\n" + "\n".join(errors))
        self.errors = errors


@dataclass
class RulesDocument:
    rules: list[dict[str, Any]] = field(default_factory=list)
    standing: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def parse_toml(text: str) -> RulesDocument:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesInvalid([f"not valid TOML: {exc}"]) from None
    return validate_document(data)


def validate_document(data: Any) -> RulesDocument:
    """Check a whole document: `[[rules]]`, and optional `follow_reply` / `default_reply`."""
    if not isinstance(data, dict):
        raise RulesInvalid(["the document must be a table with [[rules]]"])
    errors: list[str] = []
    unknown = set(data) - {"rules", "follow_reply", "default_reply"}
    errors += [f"{key}: unknown top-level key (expected rules, follow_reply, default_reply)" for key in sorted(unknown)]
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        errors.append("rules: expected an array of tables ([[rules]])")
        raw_rules = []
    document = RulesDocument()
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rules, start=1):
        rule, problems = validate_rule(raw, index)
        errors += problems
        if rule is not None:
            if rule["name"] in seen:
                errors.append(f'rules[{index}] "{rule["name"]}": name: already used by rules[{seen[rule["name"]]}]')
            seen[rule["name"]] = index
            document.rules.append(rule)
    for kind in ("follow", "default"):
        key = f"{kind}_reply"
        if key in data:
            replies, problems = validate_replies(data[key], key)
            errors += problems
            document.standing[kind] = replies
    if errors:
        raise RulesInvalid(errors)
    return document


def validate_one(raw: Any) -> dict[str, Any]:
    """One rule on its own (the console's rule form): the rule, or `RulesInvalid` whose problems name the field
    only (`keywords: expected …`)."""
    rule, problems = validate_rule(raw, 0)
    if rule is None:
        raise RulesInvalid([problem.removeprefix("rule: ") for problem in problems])
    return rule


def validate_rule(raw: Any, index: int) -> tuple[dict[str, Any] | None, list[str]]:
    """Index 0 is a rule on its own: its problems start `rule: `."""
    if not isinstance(raw, dict):
        return None, [f"rules[{index}]: expected a table" if index else "rule: expected a table"]
    name = raw.get("name")
    named = f'rules[{index}] "{name}"' if isinstance(name, str) and name else f"rules[{index}]"
    label = named if index else "rule"
    errors = [f"{label}: {key}: unknown field" for key in sorted(set(raw) - RULE_KEYS)]
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        errors.append(f"{label}: name: expected a non-empty string of at most 100 characters")
    keywords = raw.get("keywords")
    if not isinstance(keywords, list) or not keywords or not all(isinstance(k, str) and k.strip() for k in keywords):
        errors.append(f"{label}: keywords: expected a non-empty list of non-empty strings")
        keywords = None
    match = raw.get("match", "contains")
    if match not in MATCH_MODES:
        errors.append(f"{label}: match: expected one of {', '.join(MATCH_MODES)}, got {match!r}")
    priority = raw.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or not -1000 <= priority <= 1000:
        errors.append(f"{label}: priority: expected an integer from -1000 to 1000")
    reply_mode = raw.get("reply_mode", "all")
    if reply_mode not in REPLY_MODES:
        errors.append(f"{label}: reply_mode: expected all or random, got {reply_mode!r}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        errors.append(f"{label}: enabled: expected true or false")
    overrides = raw.get("overrides", False)
    if not isinstance(overrides, bool):
        errors.append(f"{label}: overrides: expected true or false")
    starts, problem = _when(raw.get("starts"))
    errors += [f"{label}: starts: {problem}"] if problem else []
    ends, problem = _when(raw.get("ends"))
    errors += [f"{label}: ends: {problem}"] if problem else []
    if starts and ends and ends <= starts:
        errors.append(f"{label}: ends: must be after starts")
    if "reply" not in raw:
        errors.append(f"{label}: reply: missing")
        replies: list[dict[str, Any]] = []
    else:
        replies, problems = validate_replies(raw["reply"], f"{label}: reply")
        errors += problems
    if errors:
        return None, errors
    rule = {
        "name": name.strip(),
        "keywords": [k.strip() for k in keywords],
        "match": match,
        "priority": priority,
        "reply_mode": reply_mode,
        "enabled": enabled,
        "overrides": overrides,
        "starts": starts,
        "ends": ends,
        "replies": replies,
    }
    try:  # the matcher's own checks: keywords that normalise to nothing, unsafe or invalid regexes
        Matcher.build([Rule(id=1, name=rule["name"], keywords=tuple(rule["keywords"]), match=match)])
    except RuleError as exc:  # its message numbers the probe rule, not the file's: name the keyword only
        keyword = f"{exc.keyword!r}: " if exc.keyword is not None else ""
        return None, [f"{label}: keywords: {keyword}{exc.reason}"]
    except UnsafePattern as exc:
        return None, [f"{label}: keywords: {exc}"]
    return rule, []


def validate_replies(raw: Any, where: str) -> tuple[list[dict[str, Any]], list[str]]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        return [], [f"{where}: expected at least one reply"]
    if len(items) > MAX_REPLIES:
        return [], [f"{where}: at most {MAX_REPLIES} replies"]
    replies, errors = [], []
    for i, item in enumerate(items, start=1):
        at = f"{where}[{i}]" if isinstance(raw, list) else where
        reply, (name, problem) = _reply(item)
        if problem:
            errors.append(f"{at}.{name}: {problem}" if name else f"{at}: {problem}")
        else:
            replies.append(reply)
    return replies, errors


def _reply(item: Any) -> tuple[dict[str, Any], tuple[str, str]]:
    """A reply normalised to a table with a `type`, or the (field, problem) that stops it."""
    if isinstance(item, str):
        item = {"type": "text", "content": item}
    if not isinstance(item, dict):
        return {}, ("", "expected a string or a table with a type")
    kind = item.get("type", "text")
    fields = {"text": {"content"}, "news": {"title", "description", "url", "image"}, "product": {"spu"},
              "coupon": {"code"}}.get(kind)  # fmt: skip
    if fields is None:
        return {}, ("type", f"expected one of {', '.join(REPLY_TYPES)}, got {kind!r}")
    extra = set(item) - fields - {"type"}
    if extra:
        return {}, ("", f"unknown field(s) {', '.join(sorted(extra))} for a {kind} reply")
    if kind == "text":
        content = item.get("content")
        if not isinstance(content, str) or not content.strip() or len(content) > MAX_TEXT:
            return {}, ("content", f"expected non-empty text of at most {MAX_TEXT} characters")
    elif kind == "news":
        if not isinstance(item.get("title"), str) or not item["title"].strip():
            return {}, ("title", "expected a non-empty string")
        if not isinstance(item.get("url"), str) or not item["url"].startswith(("http://", "https://")):
            return {}, ("url", "expected an http(s) URL")
    else:
        (name,) = fields
        if not isinstance(item.get(name), str) or not item[name].strip():
            return {}, (name, "expected a non-empty string")
    return {"type": kind, **{k: v for k, v in item.items() if k != "type"}}, ("", "")


def _when(value: Any) -> tuple[datetime | None, str]:
    if value is None:
        return None, ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None, f"expected a date-time like 2026-11-11T00:00:00, got {value!r}"
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        return None, "expected a date-time"
    return (value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value.astimezone(SHANGHAI)), ""
