"""A follow-up to the product list just shown: "便宜一点的", "有红色的吗", "第二个有L码吗", "就这个", "三百以内的".

`read_follow_up(text)` says what a message asks of the last list, or None when it says anything more (product
words, a question of its own): only a message made of list words, entities and filler is a follow-up, so
"有红色的连衣裙吗" stays a search and "这个多少钱" a question. Most messages are turned away by one character-class
match before any entity is read, so the check is cheap enough for every message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dialogs.understanding.entities import COLOURS, PriceRange, extract_with_rest
from dialogs.understanding.numerals import DIGITS

__all__ = ["FollowUp", "read_follow_up"]

MAX_CHARS = 20  # longer messages say more than a follow-up does

_FILLER = (
    "有没有", "有木有", "还有没有", "还有", "没有", "有", "我想要", "我要", "想要", "要", "那就", "就是", "就", "来",
    "换成", "换一个", "换个", "换", "选", "买", "拿", "给我", "我", "那个", "这个", "这款", "那款", "这件", "那件",
    "这", "那", "它", "个", "款", "件", "一点儿", "一点", "一些", "点", "些", "更", "再", "稍微", "别的", "其他",
    "其它", "另外的", "另外", "颜色", "色", "尺码", "尺寸", "码", "号", "的", "吗", "呢", "嘛", "吧", "啊", "呀",
    "哈", "么", "便宜", "实惠", "低价", "价格", "价位", "在", "以内", "以下", "之内", "内",
)  # fmt: skip
_FILLER_WORDS = re.compile("|".join(sorted(map(re.escape, _FILLER), key=len, reverse=True)))
_CHARS = (
    {c for word in _FILLER for c in word}
    | {c for word in COLOURS for c in word}
    | set(DIGITS)
    | set("十百千万第倒数最后到至上下左右元块钱不超过预算低于高于以起往码号0123456789.-~kw smlxfrezi/ab")
)
_MAYBE = re.compile("[" + re.escape("".join(sorted(_CHARS))) + "]+")
_THIS = re.compile(r"这|那个|那款|那件|它")
_CHEAPER = re.compile(r"便宜|实惠|低价")
_OTHER_COLOUR = re.compile(r"(?:别的|其他|其它|另外的?|换一?个?)(?:颜色|色)")
_BLANK = re.compile(r"[\s　,，.。!！?？~～]+")


@dataclass(frozen=True)
class FollowUp:
    """What a follow-up asks of the last list. `ordinal`: 1-based position, -1 the last (as `Entities`)."""

    ordinal: int | None = None
    this: bool = False  # "就这个", "这个有L码吗": the product in view
    cheaper: bool = False
    other_colour: bool = False
    colours: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    price: PriceRange | None = None

    @property
    def filters(self) -> bool:
        """It narrows a list (or checks a product) rather than only picking one."""
        return bool(self.cheaper or self.other_colour or self.colours or self.sizes or self.price)


def read_follow_up(text: str) -> FollowUp | None:
    stripped = text.strip().lower()
    if not stripped or len(stripped) > MAX_CHARS or not _MAYBE.fullmatch(stripped):
        return None
    entities, rest = extract_with_rest(stripped)
    words = _FILLER_WORDS.sub(" ", rest)
    if _BLANK.sub("", words):
        return None
    found = FollowUp(
        ordinal=entities.ordinal,
        this=bool(_THIS.search(rest)),
        cheaper=bool(_CHEAPER.search(rest)),
        other_colour=bool(_OTHER_COLOUR.search(rest)),
        colours=entities.colours,
        sizes=entities.sizes,
        price=entities.price,
    )
    return found if found.filters or found.ordinal or found.this else None
