"""The form of a message the classifier reads: simplified, half-width, lower case, without emoji, punctuation
or the commonest typos, so "快遞到哪裡了？😭", "快递到哪里了" and "快滴到哪里了" read alike.

It builds on `dialogs.normalize.normalize` (width and case folding, punctuation and spaces removed), which
the keyword matcher uses unchanged, and adds what only understanding needs:

- traditional → simplified with OpenCC's phrase-aware `t2s` tables (the `opencc` package: the reference C++
  implementation, ≈ 8 µs for 30 characters; the pure-Python ports are several times slower);
- a few emoji read as the words shoppers mean by them (😂 → 哈哈, 👌 → 好的, 🙏 → 谢谢, 👋 → 拜拜), all
  other emoji and pictographs removed;
- a small table of typos and internet spellings (快滴 → 快递, 优惠卷 → 优惠券, 神马 → 什么).

`light(text)` is the entity extractor's form: simplified and width/case folded but with punctuation kept,
since "100-200" and "1.5L" need their signs. `pinyin(text)` gives the toneless pinyin of a string for
matching product names typed in pinyin ("lianyiqun" → 连衣裙).
"""

from __future__ import annotations

import functools
import re
import unicodedata

import opencc

from dialogs.normalize import normalize

__all__ = ["light", "normalise", "pinyin", "pinyin_initials", "to_simplified"]

_EMOJI_WORDS = {
    "😂": "哈哈",
    "🤣": "哈哈",
    "😆": "哈哈",
    "😄": "哈哈",
    "😁": "哈哈",
    "😹": "哈哈",
    "👌": "好的",
    "👍": "好的",
    "🙏": "谢谢",
    "👋": "拜拜",
}
_EMOJI_WORD = re.compile("|".join(map(re.escape, _EMOJI_WORDS)))

# Pictographs, dingbats, arrows, geometric shapes, emoji modifiers and joiners: no matching meaning left once
# the few above are read as words. `normalize` keeps symbols (operator keywords may use them), so they go here.
_PICTOGRAPHS = re.compile(
    "[\u00a9\u00ae\u203c\u2049\u2122\u2139\u2190-\u21ff\u2300-\u23ff\u24c2\u25a0-\u27bf\u2900-\u297f"
    "\u2b00-\u2bff\u3030\u303d\u3297\u3299\u200d\u20e3\U0001f000-\U0001faff\U0001f3fb-\U0001f3ff]"
)

# Typos and internet spellings seen in shop chats, applied to simplified, folded text. Keep it small and
# unambiguous: an entry must never turn a correct word into another one.
TYPOS: dict[str, str] = {
    "快滴": "快递",
    "物留": "物流",
    "优惠卷": "优惠券",
    "优惠劵": "优惠券",
    "积份": "积分",
    "退获": "退货",
    "退贷": "退货",
    "退或": "退货",
    "客福": "客服",
    "定单": "订单",
    "订丹": "订单",
    "神马": "什么",
    "肿么": "怎么",
    "在咩": "在吗",
    "介个": "这个",
    "酱紫": "这样",
}
_TYPO = re.compile("|".join(sorted(map(re.escape, TYPOS), key=len, reverse=True)))


@functools.cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified (phrase-aware: 頭髮 → 头发, 乾淨 → 干净); ASCII passes through untouched."""
    if text.isascii():
        return text
    return _converter().convert(text)


def light(text: str) -> str:
    """Simplified, NFKC-folded (full-width → half-width) and lower-cased, punctuation and spaces kept."""
    return unicodedata.normalize("NFKC", to_simplified(text)).lower()


def normalise(text: str) -> str:
    """The classifier's form of `text`; idempotent."""
    simplified = to_simplified(text)
    if not simplified.isascii():
        simplified = _EMOJI_WORD.sub(lambda hit: _EMOJI_WORDS[hit.group()], simplified)
        simplified = _PICTOGRAPHS.sub("", simplified)
    folded = normalize(simplified)
    return _TYPO.sub(lambda hit: TYPOS[hit.group()], folded)


@functools.cache
def _pypinyin():  # type: ignore[no-untyped-def]
    """pypinyin loads its dictionaries on import (≈ 0.2 s): only when first asked, never at start-up."""
    import pypinyin

    return pypinyin


def pinyin(text: str) -> str:
    """Toneless pinyin of `text`, syllables joined ("连衣裙" → "lianyiqun"); other characters kept, folded."""
    syllables = _pypinyin().lazy_pinyin(normalise(text), errors=lambda chars: list(chars))
    return "".join(syllables)


def pinyin_initials(text: str) -> str:
    """First letters of the pinyin syllables ("连衣裙" → "lyq"), as shoppers abbreviate."""
    module = _pypinyin()
    letters = module.lazy_pinyin(normalise(text), style=module.Style.FIRST_LETTER, errors=lambda chars: list(chars))
    return "".join(letters)
