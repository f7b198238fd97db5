"""拼团 rows: an offer on a SKU, a group opened by a leader, and one member row per order placed in a group.

The two counters on `Group` are the gates, each moved by one conditional UPDATE so racing joiners and payments
serialise on the group's row: `seats` (members holding a place, paid or not, ≤ size) and `paid` (members who
paid, ≤ seats). A group is `pending` until its leader pays, `open` while friends may join, then `full` or
`failed` (window over, refunds owed) or `void` (the leader never paid).
"""

from __future__ import annotations

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField

PENDING, OPEN, FULL, FAILED, VOID = "pending", "open", "full", "failed", "void"
RESERVED, PAID, CANCELLED = "reserved", "paid", "cancelled"  # a member's place
LEADER, JOINER = "leader", "joiner"


class GroupOffer(BaseModel):
    """A SKU sold as a group: `size` buyers within `window_hours` each pay `price_fen`."""

    sku_id = peewee.IntegerField(unique=True)
    size = peewee.IntegerField(constraints=[peewee.Check("size >= 2")])
    window_hours = peewee.IntegerField(constraints=[peewee.Check("window_hours > 0")])
    price_fen = peewee.BigIntegerField(constraints=[peewee.Check("price_fen > 0")])
    limit_per_follower = peewee.IntegerField(default=1)  # groups a follower may be in for this offer; 0 = any
    active = peewee.BooleanField(default=True)
    updated_at = ShanghaiDateTimeField(null=True)  # None: from a catalog import


class Group(BaseModel):
    group_no = peewee.CharField(max_length=24, unique=True)
    offer = peewee.ForeignKeyField(GroupOffer, backref="groups", on_delete="RESTRICT")
    sku_id = peewee.IntegerField()
    leader_openid = peewee.CharField(max_length=64)
    size = peewee.IntegerField()  # copied from the offer: editing the offer does not change open groups
    price_fen = peewee.BigIntegerField()
    window_hours = peewee.IntegerField()
    status = peewee.CharField(max_length=12, default=PENDING)
    seats = peewee.IntegerField(default=1)
    paid = peewee.IntegerField(default=0)
    created_at = ShanghaiDateTimeField()
    opened_at = ShanghaiDateTimeField(null=True)
    expires_at = ShanghaiDateTimeField(null=True)  # set when the leader pays
    closed_at = ShanghaiDateTimeField(null=True)

    class Meta:
        indexes = ((("status", "expires_at"), False),)


class GroupMember(BaseModel):
    group = peewee.ForeignKeyField(Group, backref="members", on_delete="CASCADE")
    openid = peewee.CharField(max_length=64, index=True)
    order_no = peewee.CharField(max_length=32, unique=True)
    role = peewee.CharField(max_length=8, default=JOINER)
    status = peewee.CharField(max_length=12, default=RESERVED)
    joined_at = ShanghaiDateTimeField()

    class Meta:
        indexes = ((("group", "openid"), True),)
