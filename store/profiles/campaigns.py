"""Campaigns: one `campaign` notice to every subscribed follower of a segment, through the outbox.

The notices go in one INSERT … SELECT with the dedup key `campaign:<id>:<openid>`, so a campaign started twice
(or by two workers) reaches each member once; the outbox's dispatcher sends them under the daily template quota's
member-care share, and its template mapping and value linter apply as to every notice. Results are the outbox's
own statuses for those keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import peewee

from store.core.db import write_transaction
from store.members.followers import Follower
from store.outbox.kinds import Priority, format_time
from store.outbox.notices import (
    DELIVERED,
    DROPPED,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    Notice,
    enqueue_selected,
    lint_notice_fields,
)
from store.profiles.models import Campaign, MemberProfile
from store.profiles.segments import SegmentError, members_of, segment_rule

STARTED = "started"


class CampaignError(ValueError):
    """A campaign that cannot be created or started, with the reason."""


@dataclass(frozen=True)
class CampaignResult:
    name: str
    segment: str
    status: str
    targeted: int
    queued: int
    pending: int
    sent: int  # sent or delivered
    delivered: int
    failed: int  # failed or dropped

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def create_campaign(name: str, segment: str, fields: Mapping[str, str], now: datetime) -> Campaign:
    """A draft campaign; its fields (`subject`, `detail`) are linted as every template notice is."""
    if segment_rule(segment) is None:
        raise CampaignError(f"no segment called {segment!r}")
    values = lint_notice_fields("campaign", {**fields, "sent_at": format_time(now)})
    values.pop("sent_at")
    try:
        with write_transaction():
            return Campaign.create(
                name=name, segment=segment, fields=json.dumps(values, ensure_ascii=False), created_at=now
            )
    except peewee.IntegrityError:
        raise CampaignError(f"a campaign called {name!r} exists") from None


def _campaign(name: str) -> Campaign:
    row = Campaign.get_or_none(Campaign.name == name)
    if row is None:
        raise CampaignError(f"no campaign called {name!r}")
    return row


def _prefix(campaign: Campaign) -> str:
    return f"campaign:{campaign.id}:"


def _audience(campaign: Campaign, now: datetime) -> peewee.ModelSelect:
    rule = segment_rule(campaign.segment)
    if rule is None:
        raise CampaignError(f"the segment {campaign.segment!r} is gone")
    return (
        members_of(rule, now)
        .join(Follower, on=Follower.openid == MemberProfile.openid)
        .where(Follower.subscribed == True)  # noqa: E712 (SQL, not Python truth)
    )


def dry_run(name: str, now: datetime) -> dict[str, int]:
    """Who a start would reach now: the segment's subscribed followers, and how many of them have it already."""
    campaign = _campaign(name)
    audience = _audience(campaign, now)
    targeted = audience.count()
    already = Notice.select().where(Notice.dedup_key.startswith(_prefix(campaign))).count()
    return {"targeted": targeted, "already_queued": already, "would_queue": max(targeted - already, 0)}


def start_campaign(name: str, now: datetime) -> int:
    """Queue the notice for every subscribed follower of the segment not queued yet; returns how many were."""
    campaign = _campaign(name)
    values = {**json.loads(campaign.fields), "sent_at": format_time(now)}
    fields = lint_notice_fields("campaign", values)
    payload = json.dumps(fields, ensure_ascii=False, sort_keys=True)
    with write_transaction():
        audience = _audience(campaign, now)
        targeted = audience.count()
        dedup = peewee.Value(_prefix(campaign)).concat(MemberProfile.openid)
        queued = enqueue_selected(
            audience, MemberProfile.openid, "campaign", peewee.Value(payload), dedup, Priority.MEMBER_CARE, now
        )
        Campaign.update(
            status=STARTED, targeted=targeted, queued=Campaign.queued + queued,
            started_at=peewee.fn.COALESCE(Campaign.started_at, now),
        ).where(Campaign.id == campaign.id).execute()  # fmt: skip
    return queued


def campaign_result(name: str) -> CampaignResult:
    campaign = _campaign(name)
    rows = (
        Notice.select(Notice.status, peewee.fn.COUNT(1))
        .where(Notice.dedup_key.startswith(_prefix(campaign)))
        .group_by(Notice.status)
        .tuples()
    )
    by = {status: count for status, count in rows}
    return CampaignResult(
        campaign.name, campaign.segment, campaign.status, campaign.targeted, campaign.queued,
        by.get(PENDING, 0) + by.get(SENDING, 0), by.get(SENT, 0) + by.get(DELIVERED, 0), by.get(DELIVERED, 0),
        by.get(FAILED, 0) + by.get(DROPPED, 0),
    )  # fmt: skip


def list_campaigns() -> list[Campaign]:
    return list(Campaign.select().order_by(Campaign.id))


__all__ = ["CampaignError", "SegmentError", "campaign_result", "create_campaign", "dry_run", "start_campaign"]
