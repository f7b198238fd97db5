"""Reading a shopper's search text: price phrases, normalisation, and jieba tokens.

Price phrases understood (yuan; Arabic digits, simple Chinese numerals such as 两百, and 1千/2k/1.5万):

- upper bound: `200以内` `200元以下` `200块之内` `不超过200` `预算200` → price ≤ 200;
  `低于200` `少于200` `不到200` → < 200
- lower bound: `300以上` `300元起` `不低于300` `至少300` → ≥ 300; `高于300` `超过300` `大于300` → > 300
- range: `100到300` `100至300` `100-300元` `100~300块` `价格100-300` → 100 ≤ price ≤ 300 (with `-`/`~` a 元/块
  or 价格 is needed, so "2-3岁" or "iphone 15-16" are not prices)
- around: `200左右` `200元上下` `200元的` → 160..240 (±20 %)
- cheap: `便宜` `实惠` `平价` `低价` `性价比` (as in "便宜点的耳机") → sort by price, cheapest first, and keep the
  cheaper half of the matches (≤ the median price) unless an explicit upper bound was given.

A number followed by a non-price unit (岁, 码, g, ml, 寸, 件, …) is never read as a price.

Tokens come from a jieba `Tokenizer` private to the search (the catalog's words must not change how the keyword
matcher segments). Its dictionary costs ~0.5 s to load: it is created once per process, on first use, under a
lock; catalog words are only ever added, under the same lock, so concurrent searches can keep reading it.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType

import jieba
from opencc import OpenCC

AROUND = Decimal("0.2")

_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUM = r"(?:\d+(?:\.\d+)?\s*(?:k|千|万)?|[零一二两三四五六七八九十百千万]+)"
_YUAN = r"\s*(?:元钱|元|块钱|块|rmb)?"
_NON_PRICE_UNITS = (
    r"岁|个月|月|码|号|cm|mm|m\b|ml|l\b|g|kg|斤|克|寸|英寸|w\b|mah|"
    r"gb|tb|度|人|天|年|件|条|双|支|瓶|包|盒|片|个|米"
)
_NOT_PRICE = rf"(?!\s*(?:{_NON_PRICE_UNITS}))"
_P = rf"¥?\s*({_NUM}){_YUAN}{_NOT_PRICE}"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("range", re.compile(rf"(?:价格|价位|预算)?\s*{_P}\s*(?:到|至)\s*{_P}\s*(?:之间|以内|的)?")),
    ("range_dash", re.compile(rf"(?:价格|价位)\s*{_P}\s*[-~—]\s*{_P}|{_P}\s*[-~—]\s*¥?\s*({_NUM})\s*(?:元|块)")),
    ("max", re.compile(rf"{_P}\s*(?:以内|以下|之内|内(?![衣裤搭胆]))")),
    ("below", re.compile(rf"(?:低于|少于|小于|不到|<)\s*{_P}")),
    ("max", re.compile(rf"(?:不超过|不高于|不大于|最多|预算|<=|≤)\s*{_P}")),
    ("min", re.compile(rf"{_P}\s*(?:以上|起|往上)")),
    ("above", re.compile(rf"(?:高于|超过|大于|多于|>)\s*{_P}")),
    ("min", re.compile(rf"(?:不低于|至少|>=|≥)\s*{_P}")),
    ("around", re.compile(rf"{_P}\s*(?:左右|上下)|¥?\s*({_NUM})\s*(?:元|块)的")),
]
_CHEAP = re.compile(r"(?:最|比较|稍微|更|再)?(?:便宜|实惠|平价|低价|性价比高?)(?:一点|一些|点|些)?(?:的)?")


@dataclass(frozen=True)
class PriceFilter:
    """Bounds in fen (inclusive) and whether the shopper asked for cheap things."""

    min_fen: int | None = None
    max_fen: int | None = None
    cheap: bool = False

    @property
    def active(self) -> bool:
        return self.min_fen is not None or self.max_fen is not None or self.cheap

    def admits(self, price_fen: int) -> bool:
        return (self.min_fen is None or price_fen >= self.min_fen) and (
            self.max_fen is None or price_fen <= self.max_fen
        )


def _cn_number(text: str) -> Decimal | None:
    """两百 → 200, 一千五 → 1500, 三万 → 30000, 十五 → 15; None when it is not a plain numeral."""
    total, section, digit = 0, 0, None
    last_unit = 1
    for char in text:
        if char in _CN_DIGITS:
            digit = _CN_DIGITS[char]
        elif char in _CN_UNITS:
            unit = _CN_UNITS[char]
            section += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        elif char == "万":
            total = (total + section + (digit or 0)) * 10000
            section, digit, last_unit = 0, None, 10000
        else:
            return None
    if digit is not None:
        section += digit * (last_unit // 10 if last_unit >= 100 and len(text) > 1 else 1)
    return Decimal(total + section)


def _yuan(token: str) -> Decimal | None:
    token = token.strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(k|千|万)?", token)
    if match:
        scale = {"k": 1000, "千": 1000, "万": 10000}.get(match.group(2) or "", 1)
        return Decimal(match.group(1)) * scale
    return _cn_number(token)


def _fen(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


_NUMERAL = re.compile(r"[\d零一二两三四五六七八九十百千万]")


@lru_cache(maxsize=4096)
def parse_price(text: str) -> tuple[PriceFilter, str]:
    """Take the price phrases out of normalised `text`; return the filter and what is left to search for.
    Kept per text: a chat turn reads the same words twice (do they name products? then the search itself)."""
    low: int | None = None
    high: int | None = None
    for kind, pattern in _PATTERNS if _NUMERAL.search(text) else ():  # every price phrase has a number
        match = pattern.search(text)
        if not match:
            continue
        numbers = [_yuan(g) for g in match.groups() if g]
        if not numbers or any(n is None for n in numbers):
            continue
        values = [_fen(n) for n in numbers if n is not None]
        if kind.startswith("range"):
            low, high = min(values[:2]), max(values[:2])
        elif kind == "max":
            high = values[0]
        elif kind == "below":
            high = max(values[0] - 1, 0)
        elif kind == "min":
            low = values[0]
        elif kind == "above":
            low = values[0] + 1
        else:
            low, high = _fen(numbers[0] * (1 - AROUND)), _fen(numbers[0] * (1 + AROUND))
        text = text[: match.start()] + " " + text[match.end() :]
    cheap = False
    cheap_match = _CHEAP.search(text)
    if cheap_match:
        cheap = True
        text = text[: cheap_match.start()] + " " + text[cheap_match.end() :]
    return PriceFilter(min_fen=low, max_fen=high, cheap=cheap), text


# ---- normalisation and tokens -------------------------------------------------------------------------------

_STOPWORDS_TEXT = """
    的 了 吗 呢 啊 吧 呀 嘛 哦 我 你 他 她 我们 要 想 想要 买 想买 给 有 有没有 没有 是 在 和 与 或 跟 还 也 都 就
    一个 一件 一款 一套 一些 一点 点 些 什么 啥 推荐 帮 帮我 找 找找 看 看看 请 求 哪 哪些 哪个 适合 款
    元 块 钱 码 号 价格 价位 送 一下 好 好的 那种 这种 多少 怎么 能 可以
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
# Spellings folded to one form on both sides (documents and queries).
CANONICAL: Mapping[str, str] = MappingProxyType(
    {"体恤": "t恤", "tshirt": "t恤", "tee": "t恤", "耳麦": "耳机", "苹果手机": "iphone", "蓝牙耳麦": "蓝牙耳机"}
)
# A query word that should also accept these document words.
EXPANSIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "男": ("男款", "男士", "男装", "男式", "男生"),
        "女": ("女款", "女士", "女装", "女式", "女生"),
        "妈妈": ("母亲", "妈", "母亲节", "中老年"),
        "爸爸": ("父亲", "爸", "父亲节", "中老年"),
        "礼物": ("礼品", "礼盒", "送礼"),
        "手机": ("智能手机",),
    }
)
_CAPACITY = re.compile(r"(\d+(?:\.\d+)?)(g|gb|t|tb|m|mb|ml|毫升)")
_CAPACITY_UNIT = {"g": "gb", "gb": "gb", "t": "tb", "tb": "tb", "m": "mb", "mb": "mb", "ml": "ml", "毫升": "ml"}
_LETTERS_DIGITS = re.compile(r"[a-z]+|\d+(?:\.\d+)?")
_WORD = re.compile(r"[\w\u4e00-\u9fff]")


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


_CJK = re.compile(r"[\u4e00-\u9fff]")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{3,}")
_converter: list[OpenCC] = []


def to_simplified(text: str) -> str:
    """Traditional characters to simplified (買 → 买, 連衣裙 stays): shoppers in Hong Kong and Taiwan type 繁體."""
    if not _CJK.search(text):
        return text
    if not _converter:
        _converter.append(OpenCC("t2s"))  # ~10 ms to load: on the first query, not at import
    return _converter[0].convert(text)


def pinyin_of(word: str) -> str:
    """Toneless pinyin of a Chinese word, syllables joined (连衣裙 → lianyiqun); "" when it is not all Chinese."""
    if len(word) < 2 or not all(_CJK.fullmatch(c) for c in word):
        return ""
    import pypinyin  # its dictionaries load on import (~0.2 s): at the first index build, not at start-up

    return "".join(pypinyin.lazy_pinyin(word, style=pypinyin.Style.NORMAL))


def bigrams(text: str) -> list[str]:
    """Character pairs of every run of three or more Chinese characters (电饭锅 → 电饭, 饭锅), so compound
    words match words sharing a part (电饭煲, 智能电饭锅)."""
    pairs: list[str] = []
    for run in _CJK_RUN.findall(text):
        pairs.extend(run[i : i + 2] for i in range(len(run) - 1))
    return pairs


def canonical(token: str) -> str:
    """One spelling per term: `256G`/`256GB` → `256gb`, `体恤` → `t恤`."""
    capacity = _CAPACITY.fullmatch(token)
    if capacity:
        return capacity.group(1) + _CAPACITY_UNIT[capacity.group(2)]
    return CANONICAL.get(token, token)


def sub_terms(token: str) -> list[str]:
    """Letter and digit runs of a mixed ASCII token (`iphone15` → `iphone`, `15`), capacities kept whole."""
    if not token.isascii() or _CAPACITY.fullmatch(token) or not (re.search(r"\d", token) and re.search("[a-z]", token)):
        return []
    return _LETTERS_DIGITS.findall(token)


class _Segmenter:
    """The process's search tokenizer: a jieba dictionary loaded lazily, once, and only ever added to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokenizer: jieba.Tokenizer | None = None
        self._words: set[str] = set()

    def _get(self) -> jieba.Tokenizer:
        tokenizer = self._tokenizer
        if tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    logging.getLogger("jieba").setLevel(logging.WARNING)
                    created = jieba.Tokenizer()
                    created.initialize()
                    for word in ("t恤", "polo衫", "连衣裙", "半身裙", "卫衣", "羽绒服", "蓝牙耳机", "充电宝"):
                        created.add_word(word, max(created.FREQ.get(word, 0), 1000))
                    self._tokenizer = created
                tokenizer = self._tokenizer
        return tokenizer

    def add_words(self, words: Iterable[str]) -> None:
        """Teach the dictionary domain words (brands, category names, spec values, tags) so they stay whole."""
        tokenizer = self._get()
        with self._lock:
            for word in words:
                if word not in self._words and 2 <= len(word) <= 12 and _WORD.search(word):
                    self._words.add(word)
                    tokenizer.add_word(word, max(tokenizer.suggest_freq(word), 50))

    def cut(self, text: str) -> list[str]:
        return self._get().lcut(text, HMM=False)

    def cut_for_search(self, text: str) -> list[str]:
        return self._get().lcut_for_search(text, HMM=False)


SEGMENTER = _Segmenter()


def document_terms(text: str) -> list[str]:
    """Index terms of a title, tag or name: the fine-grained cut (whole words and their dictionary sub-words)."""
    terms: list[str] = []
    for token in SEGMENTER.cut_for_search(normalise(text)):
        token = token.strip()
        if not token or not _WORD.search(token):
            continue
        terms.append(canonical(token))
        terms.extend(sub_terms(token))
    return terms


def query_tokens(text: str) -> list[str]:
    """The words of what is left of a query after the price phrases: stopwords and punctuation dropped."""
    tokens: list[str] = []
    for token in SEGMENTER.cut(text):
        token = token.strip()
        if token and _WORD.search(token) and token not in STOPWORDS:
            tokens.append(canonical(token))
    return tokens
