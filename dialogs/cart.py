"""The cart as the checkout flow sees it: lines of (SKU, quantity), and the rule for adding one.

Where it is kept is the edge's business (`bot.chat.carts` keeps it in Redis; tests may keep it in a dict).
"""

from __future__ import annotations

from typing import Protocol

MAX_LINES = 20
MAX_QUANTITY = 99

Lines = list[tuple[int, int]]


class Carts(Protocol):
    def lines(self, openid: str) -> Lines: ...

    def save(self, openid: str, lines: Lines) -> None: ...

    def add(self, openid: str, sku_id: int, quantity: int) -> Lines:
        """Add or top up a line (`added`); returns the cart."""
        ...

    def clear(self, openid: str) -> None: ...


def added(lines: Lines, sku_id: int, quantity: int) -> Lines:
    """The cart with `quantity` more of `sku_id`: a line topped up (capped at MAX_QUANTITY) or appended."""
    lines = list(lines)
    for i, (sku, qty) in enumerate(lines):
        if sku == sku_id:
            lines[i] = (sku, min(MAX_QUANTITY, qty + quantity))
            return lines
    return [*lines, (sku_id, min(MAX_QUANTITY, quantity))]
