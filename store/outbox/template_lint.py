"""The template-message linter: refuse what WeChat refuses, strips or punishes (WECHAT.md §2.3).

Since 2023-05 every field shows at most 20 characters with no line breaks and no emoji; template messages are
for service notices only, and marketing wording gets accounts restricted. Category templates type their keys
(`thing4`, `amount1`, `time3`, `character_string2`, `phrase5`…): each type has its own format. The same rules
check a notice's fields when it is enqueued (typed by its kind) and the template payload before it is sent
(typed by the key prefix), so a bad notice fails loudly at the business change that made it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

FIELD_MAX_CHARS = 20
CODE_TYPES = frozenset({"character_string", "number", "letter"})  # up to 32 characters (checked by type below)

MARKETING_WORDS = (
    "优惠券", "优惠", "领券", "领取", "免费领", "限时", "秒杀", "折扣", "打折", "红包", "抢购", "特价", "促销",
    "满减", "立减", "返现", "大促", "福利", "抽奖", "清仓",
)  # fmt: skip

_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U00002b00-\U00002bff\U0000fe0f\U0000200d\U000e0020-\U000e007f]"
)
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]")
_CJK = re.compile(r"^[\u4e00-\u9fff\u3400-\u4dbf]+$")
_MONEY = re.compile(r"^-?[¥￥]?\d{1,10}(\.\d{1,2})?元?$")
_TIME = re.compile(
    r"^(\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日|\d{1,2}月\d{1,2}日)"
    r"( ?\d{1,2}:\d{2}(:\d{2})?)?"
    r"(\s?[~至-]\s?(\d{4}-\d{1,2}-\d{1,2}|\d{4}年\d{1,2}月\d{1,2}日)?( ?\d{1,2}:\d{2}(:\d{2})?)?)?$"
    r"|^\d{1,2}:\d{2}(:\d{2})?$"
)
_CHARACTER_STRING = re.compile(r"^[\x21-\x7e]{1,32}$")
_NUMBER = re.compile(r"^-?\d{1,32}(\.\d+)?$")
_LETTER = re.compile(r"^[A-Za-z]{1,32}$")
_PHONE = re.compile(r"^[0-9+\-() ]{1,17}$")
TEMPLATE_KEY = re.compile(
    r"^(thing|amount|time|date|character_string|phrase|number|letter|symbol|name|phone_number|car_number|const"
    r"|keyword)\d+$"
)


class TemplateLintError(ValueError):
    """A notice or template payload breaks WeChat's template rules; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def key_type(key: str) -> str:
    """The value type of a template key: `thing4` → thing; untyped legacy keys (`keyword1`) → keyword."""
    match = TEMPLATE_KEY.match(key)
    if match is None:
        raise ValueError(f"{key!r} is not a template data key (thing4, amount1, time3, character_string2…)")
    return match.group(1)


def thing_value(text: str, fallback: str) -> str:
    """Free text (a product title) as a `thing` field that passes `value_problems`: line breaks, emoji and
    marketing words out, at most 20 characters; `fallback` when nothing is left."""
    cleaned = _LINE_BREAK.sub(" ", _EMOJI.sub("", text))
    while found := [w for w in MARKETING_WORDS if w in cleaned]:  # a removal can join the halves of another
        for word in found:
            cleaned = cleaned.replace(word, "")
    cleaned = " ".join(cleaned.split())[:FIELD_MAX_CHARS].strip()
    return cleaned or fallback


def value_problems(name: str, value_type: str, value: str, service: bool = True) -> list[str]:
    """What is wrong with one value of `value_type` (empty list when nothing)."""
    if not value.strip():
        return [f"{name}: empty"]
    problems: list[str] = []
    if len(value) > FIELD_MAX_CHARS and value_type not in CODE_TYPES:  # codes have their own limit of 32
        problems.append(f"{name}: {len(value)} characters, at most {FIELD_MAX_CHARS}")
    if _LINE_BREAK.search(value):
        problems.append(f"{name}: line break")
    if _EMOJI.search(value):
        problems.append(f"{name}: emoji")
    if service:
        words = [w for w in MARKETING_WORDS if w in value]
        if words:
            problems.append(f"{name}: marketing wording {'/'.join(words)} (template messages are service notices)")
    problems.extend(_typed(name, value_type, value))
    return problems


def _typed(name: str, value_type: str, value: str) -> list[str]:
    if value_type == "amount" and not _MONEY.match(value):
        return [f"{name}: amount must be money like ¥199.00, got {value!r}"]
    if value_type in ("time", "date") and not _TIME.match(value):
        return [f"{name}: {value_type} must be a date or time like 2026-11-24 10:00, got {value!r}"]
    if value_type == "character_string" and not _CHARACTER_STRING.match(value):
        return [f"{name}: character_string must be letters, digits or symbols (at most 32), got {value!r}"]
    if value_type == "phrase" and not (len(value) <= 5 and _CJK.match(value)):
        return [f"{name}: phrase must be at most 5 Chinese characters, got {value!r}"]
    if value_type == "number" and not _NUMBER.match(value):
        return [f"{name}: number must be digits, got {value!r}"]
    if value_type == "letter" and not _LETTER.match(value):
        return [f"{name}: letter must be Latin letters, got {value!r}"]
    if value_type == "phone_number" and not _PHONE.match(value):
        return [f"{name}: phone_number must be a phone number, got {value!r}"]
    if value_type == "name" and len(value) > (10 if _CJK.match(value) else FIELD_MAX_CHARS):
        return [f"{name}: name must be at most 10 Chinese or 20 Latin characters"]
    if value_type == "symbol" and len(value) > 5:
        return [f"{name}: symbol must be at most 5 characters"]
    if value_type == "car_number" and len(value) > 8:
        return [f"{name}: car_number must be at most 8 characters"]
    return []


def lint_template_data(data: Mapping[str, Mapping[str, str]]) -> None:
    """Check a template payload's `data` ({"thing4": {"value": "…"}, …}) before it is sent."""
    if not data:
        raise TemplateLintError(["data: no fields"])
    problems: list[str] = []
    for key, item in data.items():
        try:
            value_type = key_type(key)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        value = item.get("value") if isinstance(item, Mapping) else None
        if not isinstance(value, str):
            problems.append(f"{key}: value must be a string")
            continue
        problems.extend(value_problems(key, value_type, value))
    if problems:
        raise TemplateLintError(problems)
