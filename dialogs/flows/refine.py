"""Refining the last product list: the same words with a price range, a colour or a size, applied to SKUs.

The list's query is kept as the shopper typed it; its price phrase is read again (by the search's own reader)
only when a follow-up asks to change it, so showing a list costs nothing extra. Colour and size are checked on
each candidate's SKUs: a product is listed only when one SKU has the colour, the size and a price in range, and
that SKU's price is the one shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dialogs.replies import yuan
from dialogs.understanding.entities import COLOURS
from dialogs.understanding.followups import FollowUp
from store.catalog.products import SpecError, parse_spec
from store.search.text import normalise, parse_price, to_simplified

__all__ = ["ListQuery", "colours_of", "fits", "search_text", "spec_text"]

_COLOUR_WORDS = re.compile("|".join(sorted(map(re.escape, COLOURS), key=len, reverse=True)))


@dataclass(frozen=True)
class ListQuery:
    """A list's query and the refinements on it; prices in fen, None open."""

    query: str
    low: int | None = None
    high: int | None = None
    cheap: bool = False
    colour: str = ""
    size: str = ""

    @classmethod
    def of(cls, recent: dict[str, Any]) -> ListQuery:
        """The query of the list in `recent`, its own price phrase as the starting range."""
        query = recent.get("query", "")
        if "low" in recent or "high" in recent:
            price_low, price_high = recent.get("low"), recent.get("high")
        else:
            price, _ = parse_price(normalise(to_simplified(query)))
            price_low, price_high = price.min_fen, price.max_fen
        return cls(
            query, price_low, price_high, recent.get("cheap", False), recent.get("colour", ""), recent.get("size", "")
        )

    @property
    def words(self) -> str:
        """The query without its price phrase ("200以内的耳机" → "耳机")."""
        _, rest = parse_price(normalise(to_simplified(self.query)))
        return " ".join(rest.split())

    def refined(self, asked: FollowUp, prices: Sequence[int]) -> ListQuery:
        """The query narrowed as `asked` says; "cheaper" is below the middle price of the list shown (a shopper
        asking for cheaper wants most of what they saw gone, not only the dearest one), cheapest first."""
        query = self
        if asked.price is not None:  # a range of their own replaces "cheaper than those"
            query = replace(query, low=asked.price.low, high=asked.price.high, cheap=False)
        if asked.cheaper and prices:
            middle = sorted(prices)[(len(prices) - 1) // 2]
            query = replace(query, high=max(middle - 1, 0), cheap=True)
        if asked.colours:
            query = replace(query, colour=asked.colours[0])
        if asked.sizes:
            query = replace(query, size=asked.sizes[0])
        return query

    def remembered(self) -> dict[str, Any]:
        return {"query": self.query, "low": self.low, "high": self.high, "cheap": self.cheap,
                "colour": self.colour, "size": self.size}  # fmt: skip

    def describe(self) -> str:
        """ "¥300以内、红色、L码": what narrows the list, as the header names it."""
        parts = []
        if self.low is not None and self.high is not None:
            parts.append(f"¥{yuan(self.low)}-{yuan(self.high)}")
        elif self.high is not None and self.cheap:
            parts.append(f"¥{yuan(self.high + 1)}以下")  # below the middle price shown, as "cheaper" set it
        elif self.high is not None:
            parts.append(f"¥{yuan(self.high)}以内")
        elif self.low is not None:
            parts.append(f"¥{yuan(self.low)}以上")
        parts.extend(p for p in (self.colour, _size_label(self.size)) if p)
        return "、".join(parts)

    def admits(self, spec: str, price_fen: int) -> bool:
        return (
            (self.low is None or price_fen >= self.low)
            and (self.high is None or price_fen <= self.high)
            and fits(spec, self.colour, self.size)
        )


def search_text(query: ListQuery) -> str:
    """The search text for `query`: its words and a price phrase the search reads back."""
    parts = [query.words]
    if query.low is not None and query.high is not None:
        parts.append(f"{yuan(query.low)}到{yuan(query.high)}元")
    elif query.high is not None:
        parts.append(f"{yuan(query.high)}元以内")
    elif query.low is not None:
        parts.append(f"{yuan(query.low)}元以上")
    if query.cheap:
        parts.append("便宜")
    return " ".join(p for p in parts if p)


def fits(spec: str, colour: str = "", size: str = "") -> bool:
    """Whether a SKU's spec has the colour ("酒红" is 红色) and the size ("L" is not "XL"; "38码" is "38")."""
    if not colour and not size:
        return True
    values = _values(spec)
    if colour and colour not in {c for v in values for c in _colours(v)}:
        return False
    return not size or any(_same_size(v, size) for v in values)


def colours_of(specs: Iterable[str]) -> list[str]:
    """The colours these specs offer, in order of first appearance."""
    return list(dict.fromkeys(c for spec in specs for v in _values(spec) for c in _colours(v)))


def _values(spec: str) -> list[str]:
    try:
        return list(parse_spec(spec).values())
    except SpecError:
        return []


def _colours(value: str) -> list[str]:
    return [COLOURS[hit.group()] for hit in _COLOUR_WORDS.finditer(value.lower())]


def _same_size(value: str, size: str) -> bool:
    value, size = value.strip().casefold(), size.casefold()
    return value in (size, size.removesuffix("码"), f"{size}码")


def _size_label(size: str) -> str:
    return f"{size}码" if size.isascii() and size.isalpha() else size


def spec_text(spec: str) -> str:
    """`颜色:红色;尺码:M` → `红色 M`."""
    return " ".join(part.split(":", 1)[-1] for part in spec.split(";") if part)
