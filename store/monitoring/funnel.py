"""Funnel events (exposure → click → pay) for the merchant's conversion metrics: a product card shown in chat,
a product page opened. Append-only and cheap to write; aggregated by the metrics views."""

from __future__ import annotations

from datetime import datetime

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField

EXPOSURE = "exposure"
CLICK = "click"


class FunnelEvent(BaseModel):
    kind = peewee.CharField(max_length=16, index=True)
    product_id = peewee.IntegerField(index=True)
    openid = peewee.CharField(max_length=64, null=True)
    at = ShanghaiDateTimeField(index=True)


def record(kind: str, product_id: int, now: datetime, openid: str | None = None) -> None:
    FunnelEvent.insert(kind=kind, product_id=product_id, openid=openid, at=now).execute()


def counts(product_id: int) -> dict[str, int]:
    rows = (
        FunnelEvent.select(FunnelEvent.kind, peewee.fn.COUNT(FunnelEvent.id))
        .where(FunnelEvent.product_id == product_id)
        .group_by(FunnelEvent.kind)
        .tuples()
    )
    return dict(rows)
