"""Numbers as shoppers type them: "120", "一百二十", "两千五", "1.5k", "2w", "一打", "十来个".

Shared by the entity extractor (prices, quantities, ordinals) and by any flow that asks for a number (the
checkout's quantity).
"""

from __future__ import annotations

import re

__all__ = ["CHINESE_NUMBER", "NUMBER", "parse_chinese_number"]

DIGITS = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "幺": 1, "二": 2, "两": 2, "兩": 2, "贰": 2, "三": 3, "叁": 3,
    "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "陸": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}  # fmt: skip
SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
BIG_UNITS = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}
SUFFIXES = {"k": 1000, "千": 1000, "w": 10_000, "万": 10_000, "百": 100}
DOZEN = 12

_CHINESE_CHARS = "".join((*DIGITS, *SMALL_UNITS, *BIG_UNITS))
CHINESE_NUMBER = f"[{_CHINESE_CHARS}]+"
"""A run of Chinese numeral characters (for use inside larger patterns)."""
NUMBER = rf"(?:\d+(?:\.\d+)?[kw千万百]?|{CHINESE_NUMBER})"
"""An Arabic number with an optional k/w/千/万/百 multiplier, or a Chinese numeral."""

_ARABIC = re.compile(r"(\d+(?:\.\d+)?)([kw千万百]?)")
_DOZENS = re.compile(rf"(半|\d+|{CHINESE_NUMBER})?打")
_ABOUT = re.compile(rf"({NUMBER})来")


def parse_chinese_number(text: str) -> int | None:
    """The integer `text` spells, or None. "一百二十" → 120, "两千五" → 2500, "一万五" → 15000, "1k" → 1000,
    "1.5w" → 15000, "一打" → 12, "十来" → 10 (about ten), "一百零五" → 105, "二零二六" → 2026."""
    text = text.strip().lower().replace(",", "")
    if not text:
        return None
    if arabic := _ARABIC.fullmatch(text):
        return round(float(arabic[1]) * SUFFIXES.get(arabic[2], 1))
    if dozens := _DOZENS.fullmatch(text):
        count = dozens[1]
        if count == "半":
            return DOZEN // 2
        times = 1 if count is None else parse_chinese_number(count)
        return None if times is None else times * DOZEN
    if about := _ABOUT.fullmatch(text):
        return parse_chinese_number(about[1])
    return _parse_chinese(text)


def _parse_chinese(text: str) -> int | None:
    if any(char not in DIGITS and char not in SMALL_UNITS and char not in BIG_UNITS for char in text):
        return None
    if len(text) > 1 and all(char in DIGITS for char in text):
        if len(text) == 2 and "零" not in text and "〇" not in text:
            return None  # "两三", "五六": a span of two numbers, not one
        return int("".join(str(DIGITS[char]) for char in text))  # read digit by digit: 二零二六
    total = section = 0
    digit: int | None = None
    last_unit = 1  # the unit just used: a bare trailing digit counts one place below it (两千五 = 2500)
    for char in text:
        if char in DIGITS:
            if digit:
                return None  # two digits with no unit between them: "一百二三"
            digit = DIGITS[char]
            if digit == 0:
                last_unit = 1  # 一百零五: what follows a zero is ones
        elif char in SMALL_UNITS:
            unit = SMALL_UNITS[char]
            section += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:
            unit = BIG_UNITS[char]
            section += digit or 0
            total += (section or 1) * unit
            section, digit, last_unit = 0, None, unit
    if digit is not None:
        section += digit * max(1, last_unit // 10)
    return total + section
