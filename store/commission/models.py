"""分销 rows: a promoter (a follower who shares their own referral code) and one commission per paid order line of
a buyer they brought.

A commission's money is `amount_fen` (fixed when the order is paid) minus `reversed_fen` (what refunds took back);
its row is `pending` until refunds took all of it (`reversed`). Confirmation is not written row by row: the sweep
moves one watermark (`store.commission.ledger`), and a commission not reversed whose payment is at or before it is
confirmed. Rewriting every due row was measured first: 29 s for 450,000 rows on PostgreSQL.
"""

from __future__ import annotations

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField

PENDING, CONFIRMED, REVERSED = "pending", "confirmed", "reversed"
SCENE_PREFIX = "pro_"  # a promoter's referral scene: pro_{token}


class Promoter(BaseModel):
    openid = peewee.CharField(max_length=64, unique=True)
    scene = peewee.CharField(max_length=64, unique=True)  # their QrCode's scene (purpose referrer)
    created_at = ShanghaiDateTimeField()


class Commission(BaseModel):
    """Keyed by the order line: one commission per line, however often payment is told."""

    line_id = peewee.IntegerField(primary_key=True)
    order_no = peewee.CharField(max_length=32)
    promoter_openid = peewee.CharField(max_length=64)
    buyer_openid = peewee.CharField(max_length=64)
    sku_code = peewee.CharField(max_length=64)
    title = peewee.CharField(max_length=255, default="")
    base_fen = peewee.BigIntegerField()  # what the buyer paid for the line
    rate_bp = peewee.IntegerField()
    amount_fen = peewee.BigIntegerField(constraints=[peewee.Check("amount_fen > 0")])
    reversed_fen = peewee.BigIntegerField(default=0, constraints=[peewee.Check("reversed_fen >= 0")])
    status = peewee.CharField(max_length=12, default=PENDING)  # pending | reversed (confirmed: see the module)
    earned_at = ShanghaiDateTimeField()  # the order's payment: the after-sales window runs from here
    reversed_at = ShanghaiDateTimeField(null=True)  # the last refund that took some of it back

    class Meta:
        indexes = ((("promoter_openid", "earned_at"), False), (("earned_at", "status"), False))
