"""分销 rows: a promoter (a follower who shares their own referral code) and one commission per paid order line of
a buyer they brought.

A commission's money is `amount_fen` (fixed when the order is paid) minus `reversed_fen` (what refunds took back).
Its status is `pending` until the after-sales window after its payment closes, then `confirmed`; `reversed` once
refunds took all of it. Both moves are single conditional UPDATEs on the row, so a confirmation sweep and a
refund racing on the same commission serialise on it and neither is applied twice.
"""

from __future__ import annotations

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField

PENDING, CONFIRMED, REVERSED = "pending", "confirmed", "reversed"
STATUSES = (PENDING, CONFIRMED, REVERSED)
SCENE_PREFIX = "pro_"  # a promoter's referral scene: pro_{token}


class Promoter(BaseModel):
    openid = peewee.CharField(max_length=64, unique=True)
    scene = peewee.CharField(max_length=64, unique=True)  # their QrCode's scene (purpose referrer)
    created_at = ShanghaiDateTimeField()


class Commission(BaseModel):
    """Few indexes on purpose: confirming rewrites a row, and every index is one more write per row (the 1M sweep).
    The key is the order line (one commission per line, however often payment is told); pending rows are found
    through a partial index that confirmed rows leave."""

    line_id = peewee.IntegerField(primary_key=True)
    order_no = peewee.CharField(max_length=32)
    promoter_openid = peewee.CharField(max_length=64, index=True)
    buyer_openid = peewee.CharField(max_length=64)
    sku_code = peewee.CharField(max_length=64)
    title = peewee.CharField(max_length=255, default="")
    base_fen = peewee.BigIntegerField()  # what the buyer paid for the line
    rate_bp = peewee.IntegerField()
    amount_fen = peewee.BigIntegerField(constraints=[peewee.Check("amount_fen > 0")])
    reversed_fen = peewee.BigIntegerField(default=0, constraints=[peewee.Check("reversed_fen >= 0")])
    status = peewee.CharField(max_length=12, default=PENDING)
    earned_at = ShanghaiDateTimeField()  # the order's payment: the after-sales window runs from here
    confirmed_at = ShanghaiDateTimeField(null=True)
    reversed_at = ShanghaiDateTimeField(null=True)  # the last refund that took some of it back

    class Meta:
        indexes = ((("promoter_openid", "earned_at"), False),)


Commission.add_index(Commission.index(Commission.earned_at, where=(Commission.status == PENDING)))
