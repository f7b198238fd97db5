"""The follower's cart in Redis: a short list of (SKU, quantity), kept across conversations for a week.

It outlives a checkout conversation (a follower who says "继续逛" keeps it) but is not an order: nothing is
reserved until the order is created, and losing it loses nothing that cannot be picked again. Implements
`dialogs.cart.Carts`.
"""

from __future__ import annotations

import json

import redis

from dialogs.cart import MAX_LINES, Lines, added
from store.core.keys import Keys

TTL_S = 7 * 24 * 3600


class RedisCarts:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.keys = Keys(prefix)

    def lines(self, openid: str) -> Lines:
        raw = self.client.get(self.keys.cart(openid))
        if not raw:
            return []
        try:
            return [(int(sku), int(qty)) for sku, qty in json.loads(raw)]
        except (ValueError, TypeError):
            return []

    def save(self, openid: str, lines: Lines) -> None:
        if not lines:
            self.clear(openid)
            return
        self.client.set(self.keys.cart(openid), json.dumps(lines[:MAX_LINES]), ex=TTL_S)

    def add(self, openid: str, sku_id: int, quantity: int) -> Lines:
        lines = added(self.lines(openid), sku_id, quantity)
        self.save(openid, lines)
        return lines

    def clear(self, openid: str) -> None:
        self.client.delete(self.keys.cart(openid))
