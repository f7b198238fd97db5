"""砍价 rows: an offer on a SKU, a bargain a follower started, and one cut per friend who helped.

A bargain's price only moves by one conditional UPDATE on its row (`cuts = cuts + 1 WHERE cuts = k`), so racing
friends queue on that row and each takes the next amount of the bargain's fixed split; the floor is reached
exactly at the last helper and never passed. A friend cuts once: `(bargain, helper_openid)` is unique, keyed on
the openid, so unfollowing and following again changes nothing.
"""

from __future__ import annotations

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField

OPEN, COMPLETE, ORDERED, EXPIRED = "open", "complete", "ordered", "expired"


class BargainOffer(BaseModel):
    """A SKU that may be bargained down to `floor_fen` by `helpers` friends within `window_hours`."""

    sku_id = peewee.IntegerField(unique=True)
    floor_fen = peewee.BigIntegerField(constraints=[peewee.Check("floor_fen > 0")])
    helpers = peewee.IntegerField(constraints=[peewee.Check("helpers >= 1")])
    window_hours = peewee.IntegerField(constraints=[peewee.Check("window_hours > 0")])
    limit_per_follower = peewee.IntegerField(default=1)  # bargains a follower may start on this offer; 0 = any
    active = peewee.BooleanField(default=True)
    updated_at = ShanghaiDateTimeField(null=True)


class Bargain(BaseModel):
    bargain_no = peewee.CharField(max_length=24, unique=True)
    offer = peewee.ForeignKeyField(BargainOffer, backref="bargains", on_delete="RESTRICT")
    sku_id = peewee.IntegerField()
    starter_openid = peewee.CharField(max_length=64, index=True)
    start_fen = peewee.BigIntegerField()  # the SKU's price when it started
    floor_fen = peewee.BigIntegerField()  # copied from the offer: editing the offer does not change started ones
    helpers = peewee.IntegerField()
    seed = peewee.BigIntegerField()  # draws the split of start - floor into `helpers` cuts
    cuts = peewee.IntegerField(default=0)
    price_fen = peewee.BigIntegerField()  # what the starter pays now
    status = peewee.CharField(max_length=12, default=OPEN)
    order_no = peewee.CharField(max_length=32, null=True)
    created_at = ShanghaiDateTimeField()
    expires_at = ShanghaiDateTimeField()
    completed_at = ShanghaiDateTimeField(null=True)
    closed_at = ShanghaiDateTimeField(null=True)

    class Meta:
        indexes = ((("status", "expires_at"), False),)


class BargainCut(BaseModel):
    bargain = peewee.ForeignKeyField(Bargain, backref="cut_rows", on_delete="CASCADE")
    helper_openid = peewee.CharField(max_length=64)
    seq = peewee.IntegerField()  # 1 for the first friend
    amount_fen = peewee.BigIntegerField()
    cut_at = ShanghaiDateTimeField()

    class Meta:
        indexes = ((("bargain", "helper_openid"), True), (("bargain", "seq"), True))
