"""The follower's cart: a short list of (SKU, quantity) in Redis, kept across conversations for a week.

It outlives a checkout conversation (a follower who says "继续逛" keeps it) but is not an order: nothing is
reserved until the order is created, and losing it loses nothing that cannot be picked again.
"""

from __future__ import annotations

import json

import redis

from store.core.keys import Keys

TTL_S = 7 * 24 * 3600
MAX_LINES = 20
MAX_QUANTITY = 99


class CartStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.keys = Keys(prefix)

    def _key(self, openid: str) -> str:
        return self.keys.cart(openid)

    def lines(self, openid: str) -> list[tuple[int, int]]:
        raw = self.client.get(self._key(openid))
        if not raw:
            return []
        try:
            return [(int(sku), int(qty)) for sku, qty in json.loads(raw)]
        except (ValueError, TypeError):
            return []

    def save(self, openid: str, lines: list[tuple[int, int]]) -> None:
        if not lines:
            self.client.delete(self._key(openid))
            return
        self.client.set(self._key(openid), json.dumps(lines[:MAX_LINES]), ex=TTL_S)

    def add(self, openid: str, sku_id: int, quantity: int) -> list[tuple[int, int]]:
        """Add or top up a line (capped at MAX_QUANTITY each); returns the cart."""
        lines = self.lines(openid)
        for i, (sku, qty) in enumerate(lines):
            if sku == sku_id:
                lines[i] = (sku, min(MAX_QUANTITY, qty + quantity))
                break
        else:
            lines.append((sku_id, min(MAX_QUANTITY, quantity)))
        self.save(openid, lines)
        return lines

    def clear(self, openid: str) -> None:
        self.client.delete(self._key(openid))
