"""The profiles' tables: one profile per member (rebuilt nightly), behaviour events, segments, campaigns."""

from __future__ import annotations

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField

LIFECYCLE_STAGES = ("引入", "成长", "成熟", "衰退", "流失")


class MemberProfile(BaseModel):
    """What the nightly run knows of one follower or member: scores 1..5 (0 = never bought) and attributes."""

    openid = peewee.CharField(max_length=64, primary_key=True)
    last_paid_at = ShanghaiDateTimeField(null=True)
    frequency = peewee.IntegerField(default=0)  # payments recorded
    monetary_fen = peewee.BigIntegerField(default=0)  # paid minus refunded
    r_score = peewee.SmallIntegerField(default=0)
    f_score = peewee.SmallIntegerField(default=0)
    m_score = peewee.SmallIntegerField(default=0)
    lifecycle = peewee.CharField(max_length=8, index=True)
    region = peewee.CharField(max_length=32, null=True)  # province of the latest delivery address
    birthday_month = peewee.SmallIntegerField(null=True)
    tier = peewee.CharField(max_length=16, default="normal")
    source = peewee.CharField(max_length=64, null=True)  # the QR scene that brought them
    computed_at = ShanghaiDateTimeField()
    events = peewee.IntegerField(default=0)  # behaviour events in the kept period
    b_score = peewee.SmallIntegerField(default=0)  # 1..5: quintile of `events` among members with any; 0 = none


class BehaviourEvent(BaseModel):
    """A product card shown, a product page opened, a search, a favourite: noted in memory, stored in batches."""

    id = peewee.BigAutoField()
    openid = peewee.CharField(max_length=64)
    kind = peewee.CharField(max_length=16)
    ref = peewee.CharField(max_length=128, default="")  # product id, search words
    at = ShanghaiDateTimeField(index=True)

    class Meta:
        indexes = ((("openid", "kind", "at"), False),)


class Favourite(BaseModel):
    """A product a follower saved with "收藏" (listed by "我的收藏")."""

    openid = peewee.CharField(max_length=64)
    product_id = peewee.IntegerField()
    created_at = ShanghaiDateTimeField()

    class Meta:
        indexes = ((("openid", "product_id"), True),)


class Segment(BaseModel):
    name = peewee.CharField(max_length=64, unique=True)
    rule = peewee.TextField()  # JSON object, see store.profiles.segments.SegmentRule
    created_at = ShanghaiDateTimeField()
    updated_at = ShanghaiDateTimeField()


class Campaign(BaseModel):
    """One message to a segment. The notices' dedup keys (`campaign:<id>:<openid>`) keep it once per member
    however often it is started; a coupon, if any, is issued with each member's notice (its code made from the
    notice's id, so once too)."""

    name = peewee.CharField(max_length=64, unique=True)
    segment = peewee.CharField(max_length=64)
    fields = peewee.TextField()  # JSON: the linted subject and detail
    status = peewee.CharField(max_length=16, default="draft")  # draft → scheduled → started; cancelled
    targeted = peewee.IntegerField(default=0)
    queued = peewee.IntegerField(default=0)
    created_at = ShanghaiDateTimeField()
    started_at = ShanghaiDateTimeField(null=True)
    channel = peewee.CharField(max_length=16, default="both")  # both / custom / template
    coupon = peewee.CharField(max_length=32, null=True)  # a coupon template's code, issued once per member
    url = peewee.CharField(max_length=500, default="")  # where the message's link leads (clicks counted)
    per_minute = peewee.IntegerField(default=0)  # throttle: notices due per minute from the start; 0 = all at once
    attribution_days = peewee.IntegerField(default=7)  # orders paid this long after the message count for it
    starts_at = ShanghaiDateTimeField(null=True)  # scheduled start
    cancelled_at = ShanghaiDateTimeField(null=True)


class MarketingOptOut(BaseModel):
    """A follower who replied 退订: no campaign reaches them until they reply 恢复订阅."""

    openid = peewee.CharField(max_length=64, primary_key=True)
    at = ShanghaiDateTimeField()


class CampaignClick(BaseModel):
    """The first tap on a campaign message's link, per member."""

    campaign = peewee.IntegerField()
    openid = peewee.CharField(max_length=64)
    at = ShanghaiDateTimeField()

    class Meta:
        indexes = ((("campaign", "openid"), True),)


class ProfileCluster(BaseModel):
    """One of the night's clusters (k-means over R, F, M and B), numbered by average spend, highest first."""

    number = peewee.SmallIntegerField(primary_key=True)
    label = peewee.CharField(max_length=64)  # "高频低客单 · 服饰"
    size = peewee.IntegerField()
    centroid = peewee.TextField()  # JSON {"r": 4.2, "f": 3.1, "m": 2.0, "b": 1.5}
    figures = peewee.TextField()  # JSON: averages (orders, order value, days since paid, events), traits, category
    computed_at = ShanghaiDateTimeField()


class ClusterCell(BaseModel):
    """Which cluster a combination of scores belongs to: a member's cluster is its (r, f, m, b) cell's."""

    r_score = peewee.SmallIntegerField()
    f_score = peewee.SmallIntegerField()
    m_score = peewee.SmallIntegerField()
    b_score = peewee.SmallIntegerField()
    cluster = peewee.SmallIntegerField(index=True)

    class Meta:
        primary_key = peewee.CompositeKey("r_score", "f_score", "m_score", "b_score")


MODELS = (MemberProfile, BehaviourEvent, Favourite, Segment, Campaign)
CLUSTER_MODELS = (ProfileCluster, ClusterCell)
CAMPAIGN_MODELS = (MarketingOptOut, CampaignClick)
