"""Text normalisation shared by keywords and incoming messages, so "ＶＩＰ！", "Vip" and "v i p" all read "vip".

The result is what every matcher compares: NFKC-folded (full-width → half-width, compatibility forms
unfolded), case-folded, with spaces, punctuation (ASCII and CJK: ，。！？、；：“”‘’（）【】《》…—～·)
and invisible format characters removed. Letters, digits, CJK ideographs, emoji and other symbols are kept.

It sits on the hot path of every text message, so the common case is a single `str.translate` over a
precomputed table that already does the width folding, ASCII lower-casing and deletions. That table is a
tuple indexed by code point over the Basic Multilingual Plane rather than a dict: with a dict, every
unmapped character (nearly all Chinese text) costs a failed lookup and a discarded KeyError, which made
translation twice as slow (≈1.8 µs vs 0.9 µs for 30 characters); the tuple costs ~2.5 MB once. Characters
beyond the BMP (emoji, rare ideographs) pass through it unchanged, so text that has any gets a second pass
for the few astral characters that are deleted. Only text that is still not NFKC-normal or not case-folded
afterwards (rare in Chinese chat: "①", "ﬁ", "Straße", Greek capitals) takes the slow path through
`unicodedata`.
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata

__all__ = ["normalize"]

# General categories that carry no matching meaning: punctuation, separators (spaces, ideographic
# space), controls, format characters (zero-width space, BOM, joiners) and lone surrogates.
_DELETED_CATEGORIES = frozenset({"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs"})

# Deliberate additions, outside those categories: every ASCII punctuation mark including the symbols
# $+<=>^`|~ (so their full-width forms go too, e.g. "～" and "＋"), the full-width macron "￣" and the
# modifier macron "ˉ" that Chinese IMEs produce as decoration, and variation selectors (emoji presentation
# only: "❤️" and "❤" must match each other).
_EXTRA_DELETED = frozenset(string.punctuation + "￣ˉ")
_VARIATION_SELECTORS = (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0))

# Scanning every code point costs ~0.3 s; these ranges hold all punctuation, separators and format
# characters Unicode defines (the rest of plane 2 and 3 is ideographs), and take ~25 ms at import.
_SCANNED = (range(0x20000), range(0xE0000, 0xE1000))

_FULLWIDTH_ASCII = range(0xFF01, 0xFF5F)  # "！" … "～" → "!" … "~"
_FULLWIDTH_OFFSET = 0xFEE0


def _is_deleted(char: str) -> bool:
    return char in _EXTRA_DELETED or unicodedata.category(char) in _DELETED_CATEGORIES


def _build_table() -> dict[int, str | None]:
    """One table doing deletions, full-width ASCII → ASCII and A–Z → a–z, so most text needs one pass."""
    table: dict[int, str | None] = {}
    for block in _SCANNED:
        for code in block:
            if code <= sys.maxunicode and _is_deleted(chr(code)):
                table[code] = None
    for block in _VARIATION_SELECTORS:
        for code in block:
            table[code] = None
    for code in _FULLWIDTH_ASCII:
        ascii_char = chr(code - _FULLWIDTH_OFFSET)
        table[code] = None if _is_deleted(ascii_char) else ascii_char.lower()
    for char in string.ascii_uppercase:
        table[ord(char)] = char.lower()
    return table


_TABLE = _build_table()
_BMP_TABLE: tuple[int | str | None, ...] = tuple(_TABLE.get(code, code) for code in range(0x10000))
_ASTRAL_TABLE = {code: value for code, value in _TABLE.items() if code >= 0x10000}
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def normalize(text: str) -> str:
    """Return the matching form of `text`: idempotent, and the same function for keywords and messages."""
    folded = text.translate(_BMP_TABLE)
    if folded.isascii():
        return folded
    if _ASTRAL.search(folded) is not None:
        folded = folded.translate(_ASTRAL_TABLE)
    if unicodedata.is_normalized("NFKC", folded) and folded.casefold() == folded:
        return folded
    return _normalize_slow(folded)


def _normalize_slow(text: str) -> str:
    """NFKC(casefold(NFKD(text))) then the table again, until stable.

    NFKC can produce punctuation ("⑴" → "(1)") and capitals ("ℌ" → "H"), and case folding can leave text
    that is not NFKC-normal ("ΐ"), so one round is not always a fixed point; two almost always are.
    """
    for _ in range(4):
        folded = unicodedata.normalize("NFKD", text).casefold()
        result = unicodedata.normalize("NFKC", folded).translate(_TABLE)
        if result == text:
            break
        text = result
    return text
