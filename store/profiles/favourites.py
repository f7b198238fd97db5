"""Favourites: products a follower saved in chat. Saving twice keeps one row (the unique key decides)."""

from __future__ import annotations

from datetime import datetime

import peewee

from store.catalog.products import Product
from store.core.db import write_transaction
from store.profiles.models import Favourite

MAX_LISTED = 20


def add_favourite(openid: str, product_id: int, now: datetime) -> tuple[str, bool] | None:
    """Save the product; (its title, whether it is new), or None when there is no such product."""
    product = Product.get_or_none(Product.id == product_id)
    if product is None:
        return None
    with write_transaction():
        added = (
            Favourite.insert(openid=openid, product_id=product_id, created_at=now)
            .on_conflict_ignore()
            .as_rowcount()
            .execute()
        )
    return product.title, bool(added)


def favourites(openid: str, limit: int = MAX_LISTED) -> list[tuple[int, str]]:
    """(product id, title), the latest saved first."""
    rows = (
        Favourite.select(Favourite.product_id, Product.title)
        .join(Product, on=Product.id == Favourite.product_id)
        .where(Favourite.openid == openid)
        .order_by(Favourite.created_at.desc(), Favourite.id.desc())
        .limit(limit)
        .tuples()
    )
    return [(int(pid), title) for pid, title in rows]


def favourite_counts() -> peewee.ModelSelect:
    return Favourite.select(Favourite.openid, peewee.fn.COUNT(1)).group_by(Favourite.openid)
