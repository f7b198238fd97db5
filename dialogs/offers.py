"""Which SKU a follower means by "开团" or "砍价": a SKU code after the word, else the product on screen."""

from __future__ import annotations

import re
from collections.abc import Callable

from dialogs.flows import Turn
from dialogs.recent import live
from store.catalog.offers import first_offered_sku
from store.catalog.products import Sku

_SKU_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def offered_sku(turn: Turn, command: str, model: type, offer_for: Callable[[int], object]) -> int | None:
    """The SKU to act on: a code after `command` whose SKU has an offer (`offer_for`), else the first SKU with an
    offer (of `model`) of the product just shown."""
    for word in turn.text.replace(command, " ").split():
        if _SKU_CODE.fullmatch(word):
            sku = Sku.get_or_none(Sku.code == word)
            if sku is not None and offer_for(sku.id):
                return sku.id
    product = live(turn.recent, turn.now).get("product")
    return None if product is None else first_offered_sku(model, int(product))
