"""What a campaign came to: the outbox's statuses of its notices (by channel), the taps on its link, and the
orders its members paid within `attribution_days` of their message (every campaign that reached a buyer in
that time counts the order: campaigns that overlap share their buyers).

Links: a campaign with a `url` gives each message its own link, `{public_url}/c/{notice id}.{signature}`: the
dispatcher puts it in the customer-service text or as the template message's URL (`campaign_links`), and the
link's page records the first tap per member and sends the follower on to the campaign's URL (`follow_link`).
The signature (HMAC of the notice id) keeps anyone from counting taps for notices they never got."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

import peewee

from store.core.db import is_sqlite, write_transaction
from store.orders.checkout import Order
from store.outbox.notices import CUSTOM, DELIVERED, DROPPED, FAILED, IN_DOUBT, PENDING, SENDING, SENT, Claimed, Notice
from store.profiles.campaigns import CANCELLED_REASON, campaign, prefix
from store.profiles.models import Campaign, CampaignClick
from store.profiles.opt_out import CAMPAIGN_NOTICE_KINDS, OPTED_OUT_REASON


@dataclass(frozen=True)
class CampaignResult:
    name: str
    segment: str
    status: str
    channel: str
    coupon: str | None
    starts_at: datetime | None
    targeted: int
    queued: int
    pending: int  # waiting (throttled or scheduled by the outbox) or being sent
    sent: int  # sent or delivered
    delivered: int  # template messages WeChat reported delivered (TEMPLATESENDJOBFINISH)
    failed: int  # failed, dropped (no window, not following…) or in doubt
    in_doubt: int  # of those failed, the sends cut off by a crash: they may have arrived (never sent again alone)
    cancelled: int  # dropped by a cancel or by the member's 退订
    by_channel: dict[str, int]  # sent, by channel: custom (customer-service) / template
    clicked: int  # members who tapped the message's link
    converted: int  # members who paid within the attribution window
    orders: int
    revenue_fen: int
    attribution_days: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def campaign_result(name: str) -> CampaignResult:
    row = campaign(name)
    mine = Notice.dedup_key.startswith(prefix(row))
    by_status: dict[str, int] = {}
    by_channel: dict[str, int] = {}
    stopped = 0
    rows = Notice.select(Notice.status, Notice.channel, Notice.reason, peewee.fn.COUNT(1)).where(mine)
    for status, channel, reason, n in rows.group_by(Notice.status, Notice.channel, Notice.reason).tuples():
        if status == DROPPED and reason in (CANCELLED_REASON, OPTED_OUT_REASON):
            stopped += n
            continue
        by_status[status] = by_status.get(status, 0) + n
        if status in (SENT, DELIVERED):
            by_channel[channel] = by_channel.get(channel, 0) + n
    converted, orders, revenue = _attributed(row)
    clicked = CampaignClick.select().where(CampaignClick.campaign == row.id).count()
    return CampaignResult(
        row.name, row.segment, row.status, row.channel, row.coupon, row.starts_at, row.targeted, row.queued,
        by_status.get(PENDING, 0) + by_status.get(SENDING, 0), by_status.get(SENT, 0) + by_status.get(DELIVERED, 0),
        by_status.get(DELIVERED, 0),
        by_status.get(FAILED, 0) + by_status.get(DROPPED, 0) + by_status.get(IN_DOUBT, 0), by_status.get(IN_DOUBT, 0),
        stopped,
        {CUSTOM: by_channel.get(CUSTOM, 0), "template": by_channel.get("template", 0)}, clicked, converted, orders,
        revenue, row.attribution_days,
    )  # fmt: skip


def _attributed(row: Campaign) -> tuple[int, int, int]:
    """Members who paid, orders and their paid amount, for orders paid within the window after the message."""
    days = int(row.attribution_days)
    if is_sqlite():
        until = peewee.fn.datetime(Notice.sent_at, f"+{days} days")
    else:
        until = Notice.sent_at + peewee.SQL(f"INTERVAL '{days} days'")
    query = (
        Notice.select(
            peewee.fn.COUNT(Order.openid.distinct()), peewee.fn.COUNT(Order.id), peewee.fn.SUM(Order.payable_fen)
        )
        .join(Order, on=Order.openid == Notice.openid)
        .where(
            Notice.dedup_key.startswith(prefix(row)),
            Notice.status.in_([SENT, DELIVERED]),
            Order.paid_at >= Notice.sent_at,
            Order.paid_at < until,
        )
    )
    converted, orders, revenue = query.tuples().first() or (0, 0, 0)
    return int(converted or 0), int(orders or 0), int(revenue or 0)


# -- links --------------------------------------------------------------------------------------------------------


def signature(notice_id: int, secret: str) -> str:
    return hmac.new(secret.encode(), f"campaign-link:{notice_id}".encode(), hashlib.sha256).hexdigest()[:16]


def campaign_links(claimed: Iterable[Claimed], base_url: str, secret: str) -> Mapping[int, str]:
    """The dispatcher's `links`: for each campaign notice of a campaign with a URL, its own tracked link."""
    refs = {
        n.id: int(n.values["campaign"][1:])
        for n in claimed
        if n.kind in CAMPAIGN_NOTICE_KINDS and n.values.get("campaign", "")[1:].isdigit()
    }
    if not refs:
        return {}
    with_url = {
        cid
        for (cid,) in Campaign.select(Campaign.id).where(Campaign.id.in_(set(refs.values())), Campaign.url != "")
        .tuples()
    }  # fmt: skip
    base = base_url.rstrip("/")
    return {nid: f"{base}/c/{nid}.{signature(nid, secret)}" for nid, cid in refs.items() if cid in with_url}


def follow_link(token: str, secret: str, now: datetime) -> str | None:
    """A tap on a campaign link: record the member's first tap, return where to send them (None: not ours)."""
    notice_id, _, sig = token.partition(".")
    if not notice_id.isdigit() or not hmac.compare_digest(sig, signature(int(notice_id), secret)):
        return None
    notice = Notice.get_or_none(Notice.id == int(notice_id))
    if notice is None or not (notice.dedup_key or "").startswith("campaign:"):
        return None
    cid = int(notice.dedup_key.split(":")[1])
    row = Campaign.get_or_none(Campaign.id == cid)
    if row is None or not row.url:
        return None
    with write_transaction():
        CampaignClick.insert(campaign=cid, openid=notice.openid, at=now).on_conflict_ignore().execute()
    return row.url
