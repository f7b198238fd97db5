"""What the SKU offers of 拼团 and 砍价 share: one offer per SKU (a model with `sku_id` and `active`), kept by
replacing it, found by SKU or by the product a follower has on screen; and the numbers their sales carry."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, TypeVar

import peewee

from store.catalog.products import Sku
from store.core.db import write_transaction

OfferT = TypeVar("OfferT", bound=peewee.Model)


def replace_offer(model: type[OfferT], sku_id: int, fields: dict[str, Any]) -> OfferT:
    """Create or replace the SKU's offer (sales already started keep the terms they copied)."""
    with write_transaction():
        if not model.update(**fields).where(model.sku_id == sku_id).execute():
            model.create(sku_id=sku_id, **fields)
    return model.get(model.sku_id == sku_id)


def active_offer(model: type[OfferT], sku_id: int) -> OfferT | None:
    return model.get_or_none(model.sku_id == sku_id, model.active == True)  # noqa: E712


def first_offered_sku(model: type[peewee.Model], product_id: int) -> int | None:
    """The product's first SKU with an active offer."""
    offered = (
        model.select(model.sku_id)
        .join(Sku, on=(Sku.id == model.sku_id))
        .where(Sku.product == product_id, model.active == True)  # noqa: E712
        .order_by(model.sku_id)
        .first()
    )
    return offered.sku_id if offered else None


def sale_number(prefix: str, now: datetime) -> str:
    """`G2612051830` + 8 random digits: readable in chat, unguessable in a share link."""
    return prefix + now.strftime("%y%m%d%H%M") + f"{secrets.randbelow(10**8):08d}"
