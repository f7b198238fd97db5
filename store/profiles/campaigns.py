"""Campaigns: one message to the subscribed followers of a segment, through the outbox.

A campaign's channel picks the notice kind, and the outbox's channel rules do the rest (WECHAT.md §2.2, §2.3):
`both` → `campaign` (a customer-service message inside the follower's window, a template message outside it,
under the member-care share of the daily template quota); `custom` → `campaign_cs`, or `campaign_coupon` when a
coupon is attached (customer-service messages only: outside a window the notice is dropped, and the text may name
the coupon, which a template may not); `template` → `campaign_template` (template messages only).

Starting queues the notices in one INSERT … SELECT with the dedup key `campaign:<id>:<openid>`, so a campaign
started twice (or by two workers) reaches each member once; a throttle spreads their due times over minutes; a
coupon is issued with each member's notice, its code made from the notice's id (`CP<campaign>-<notice>`), so once
too. A scheduled campaign is started by the worker's minute job once its time comes. Cancelling drops the
notices not sent yet and takes back their unused coupons. Followers who replied 退订 are never in the audience
(`store.profiles.opt_out`)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from store.core.db import datetime_value, is_sqlite, write_transaction
from store.members.followers import Follower
from store.outbox.kinds import Priority, format_time
from store.outbox.notices import DROPPED, PENDING, Notice, enqueue_selected, lint_notice_fields
from store.profiles.models import Campaign, MarketingOptOut, MemberProfile
from store.profiles.segments import SegmentError, members_of, segment_rule
from store.promotions.coupons import AVAILABLE, Coupon, CouponTemplate

DRAFT, SCHEDULED, STARTED, CANCELLED = "draft", "scheduled", "started", "cancelled"
CHANNELS = ("both", "custom", "template")
CANCELLED_REASON = "cancelled: the campaign was cancelled before this was sent"
_URL = re.compile(r"^https?://[^\s]+$")


class CampaignError(ValueError):
    """A campaign that cannot be created, started or cancelled, with the reason."""


@dataclass(frozen=True)
class CampaignOptions:
    channel: str = "both"
    coupon: str | None = None  # a coupon template's code
    url: str = ""  # where the message's link leads; empty: no link
    per_minute: int = 0  # 0: every notice due at once
    attribution_days: int = 7

    def problems(self) -> list[str]:
        found = []
        if self.channel not in CHANNELS:
            found.append(f"channel: expected one of {', '.join(CHANNELS)}")
        if self.url and (len(self.url) > 500 or not _URL.match(self.url)):
            found.append("url: expected an http(s) URL")
        if not 0 <= self.per_minute <= 1_000_000:
            found.append("per_minute: expected 0 (no throttle) or a positive number")
        if not 1 <= self.attribution_days <= 90:
            found.append("attribution_days: expected 1..90")
        if self.coupon is not None and _coupon_template(self.coupon) is None:
            found.append(f"coupon: no active coupon template {self.coupon!r}")
        return found


def kind_for(channel: str, coupon: str | None) -> str:
    if channel == "template":
        return "campaign_template"
    if channel == "custom":
        return "campaign_coupon" if coupon else "campaign_cs"
    return "campaign"


def _coupon_template(code: str) -> CouponTemplate | None:
    return CouponTemplate.get_or_none(CouponTemplate.code == code, CouponTemplate.active == True)  # noqa: E712


def _fields(campaign_id: int, kind: str, subject: str, detail: str, coupon: str | None, now: datetime) -> dict:
    """The notice's fields, linted for its kind (template rules for the kinds a template may carry)."""
    values: dict[str, str] = {"subject": subject, "detail": detail, "campaign": f"C{campaign_id}"}
    if kind in ("campaign", "campaign_template"):
        values["sent_at"] = format_time(now)
    if kind == "campaign_coupon":
        template = _coupon_template(coupon or "")
        values["coupon"] = (template.title or template.code) if template else (coupon or "")
    return lint_notice_fields(kind, values)


def create_campaign(
    name: str, segment: str, fields: Mapping[str, str], now: datetime, options: CampaignOptions | None = None
) -> Campaign:
    """A draft campaign; its subject and detail are linted for the kind its channel sends (`TemplateLintError`)."""
    options = options or CampaignOptions()
    problems = options.problems()
    if segment_rule(segment) is None:
        problems.append(f"segment: no segment called {segment!r}")
    if not name.strip() or len(name) > 64:
        problems.append("name: 1..64 characters")
    if problems:
        raise CampaignError("; ".join(problems))
    subject, detail = str(fields.get("subject", "")), str(fields.get("detail", ""))
    if len(subject) > 60 or len(detail) > 300:
        raise CampaignError("subject: at most 60 characters; detail: at most 300")
    _fields(1, kind_for(options.channel, options.coupon), subject, detail, options.coupon, now)
    try:
        with write_transaction():
            return Campaign.create(
                name=name, segment=segment, created_at=now, channel=options.channel, coupon=options.coupon,
                url=options.url, per_minute=options.per_minute, attribution_days=options.attribution_days,
                fields=json.dumps({"subject": subject, "detail": detail}, ensure_ascii=False),
            )  # fmt: skip
    except peewee.IntegrityError:
        raise CampaignError(f"a campaign called {name!r} exists") from None


def campaign(name: str) -> Campaign:
    row = Campaign.get_or_none(Campaign.name == name)
    if row is None:
        raise CampaignError(f"no campaign called {name!r}")
    return row


def _locked(name: str) -> Campaign:
    """The campaign's row, locked for this transaction on PostgreSQL (SQLite's writer lock is held already)."""
    query = Campaign.select().where(Campaign.name == name)
    row = (query if is_sqlite() else query.for_update()).first()
    if row is None:
        raise CampaignError(f"no campaign called {name!r}")
    return row


def prefix(row: Campaign) -> str:
    return f"campaign:{row.id}:"


def audience(row: Campaign, now: datetime) -> peewee.ModelSelect:
    """The segment's subscribed followers who have not replied 退订."""
    rule = segment_rule(row.segment)
    if rule is None:
        raise CampaignError(f"the segment {row.segment!r} is gone")
    return (
        members_of(rule, now)
        .join(Follower, on=Follower.openid == MemberProfile.openid)
        .where(
            Follower.subscribed == True,  # noqa: E712 (SQL, not Python truth)
            MemberProfile.openid.not_in(MarketingOptOut.select(MarketingOptOut.openid)),
        )
    )


def dry_run(name: str, now: datetime) -> dict[str, int]:
    """Who a start would reach now: the audience, and how many of them have it already."""
    row = campaign(name)
    targeted = audience(row, now).count()
    already = Notice.select().where(Notice.dedup_key.startswith(prefix(row))).count()
    return {"targeted": targeted, "already_queued": already, "would_queue": max(targeted - already, 0)}


def schedule_campaign(name: str, at: datetime, now: datetime) -> Campaign:
    """Start at `at` (the worker's minute job does it); a time already past starts it now."""
    if at <= now:
        start_campaign(name, now)
        return campaign(name)
    with write_transaction():
        row = _locked(name)
        if row.status not in (DRAFT, SCHEDULED):
            raise CampaignError(f"the campaign is {row.status}: only a draft can be scheduled")
        Campaign.update(status=SCHEDULED, starts_at=at).where(Campaign.id == row.id).execute()
    return campaign(name)


def _due_at(row: Campaign, now: datetime) -> peewee.Node | None:
    """Throttle: the n-th notice (in openid order) due ⌊n / per_minute⌋ minutes from now."""
    if not row.per_minute:
        return None
    minutes = (peewee.fn.ROW_NUMBER().over(order_by=[MemberProfile.openid]) - 1) / int(row.per_minute)
    if is_sqlite():
        offset = peewee.Value("+").concat(peewee.Cast(minutes, "TEXT")).concat(" minutes")
        return peewee.fn.datetime(datetime_value(now), offset)
    return peewee.Cast(datetime_value(now), "timestamp") + minutes * peewee.SQL("INTERVAL '1 minute'")


def start_campaign(name: str, now: datetime) -> int:
    """Queue the notice (and issue the coupon) for every member of the audience not queued yet; returns how many
    were queued. A cancelled campaign does not start."""
    with write_transaction():
        row = _locked(name)
        if row.status == CANCELLED:
            raise CampaignError("the campaign was cancelled")
        saved = json.loads(row.fields)
        kind = kind_for(row.channel, row.coupon)
        values = _fields(row.id, kind, saved["subject"], saved["detail"], row.coupon, now)
        payload = json.dumps(values, ensure_ascii=False, sort_keys=True)
        people = audience(row, now)
        targeted = people.count()
        dedup = peewee.Value(prefix(row)).concat(MemberProfile.openid)
        queued = enqueue_selected(
            people, MemberProfile.openid, kind, peewee.Value(payload), dedup, Priority.MEMBER_CARE, now,
            due_at=_due_at(row, now),
        )  # fmt: skip
        if row.coupon:
            _issue_coupons(row, now)
        Campaign.update(
            status=STARTED, targeted=targeted, queued=Campaign.queued + queued,
            started_at=peewee.fn.COALESCE(Campaign.started_at, now),
        ).where(Campaign.id == row.id).execute()  # fmt: skip
    return queued


def _coupon_code(row: Campaign) -> peewee.Node:
    return peewee.Value(f"CP{row.id}-").concat(peewee.Cast(Notice.id, "TEXT"))


def _issue_coupons(row: Campaign, now: datetime) -> int:
    """One coupon per queued notice of the campaign that has none yet (its code is the notice's)."""
    template = _coupon_template(row.coupon or "")
    if template is None:
        raise CampaignError(f"coupon: no active coupon template {row.coupon!r}")
    expires = now + timedelta(days=template.valid_days)
    rows = Notice.select(
        _coupon_code(row), peewee.Value(template.id), Notice.openid, peewee.Value(AVAILABLE),
        peewee.Value(f"campaign:{row.id}"), datetime_value(now), datetime_value(expires),
    ).where(Notice.dedup_key.startswith(prefix(row)), Notice.status != DROPPED)  # fmt: skip
    columns = [Coupon.code, Coupon.template, Coupon.openid, Coupon.status, Coupon.source, Coupon.issued_at,
               Coupon.expires_at]  # fmt: skip
    return int(Coupon.insert_from(rows, columns).on_conflict_ignore().as_rowcount().execute())


def start_due_campaigns(now: datetime) -> tuple[dict[str, int], dict[str, str]]:
    """The worker's minute job: start every scheduled campaign whose time has come. Returns name → queued, and
    name → why it could not start (it goes back to draft: one broken campaign does not hold up the others)."""
    due = Campaign.select(Campaign.name).where(Campaign.status == SCHEDULED, Campaign.starts_at <= now)
    started: dict[str, int] = {}
    failed: dict[str, str] = {}
    for (name,) in due.tuples():
        try:
            started[name] = start_campaign(name, now)
        except (CampaignError, SegmentError, ValueError) as exc:
            failed[name] = str(exc)
            Campaign.update(status=DRAFT).where(Campaign.name == name, Campaign.status == SCHEDULED).execute()
    return started, failed


def cancel_campaign(name: str, now: datetime) -> dict[str, int]:
    """Stop it: not started yet, it never will; started, its notices not yet sent are dropped (one conditional
    UPDATE: a notice a dispatcher holds right now still goes) and their unused coupons taken back."""
    with write_transaction():
        row = _locked(name)
        if row.status == CANCELLED:
            return {"cancelled_notices": 0, "coupons_withdrawn": 0}
        mine = Notice.dedup_key.startswith(prefix(row))
        dropped = (
            Notice.update(status=DROPPED, reason=CANCELLED_REASON, finished_at=now)
            .where(mine, Notice.status == PENDING)
            .execute()
        )
        withdrawn = 0
        if row.coupon:
            cancelled = Notice.select(_coupon_code(row)).where(mine, Notice.reason == CANCELLED_REASON)
            withdrawn = Coupon.delete().where(Coupon.code.in_(cancelled), Coupon.status == AVAILABLE).execute()
        Campaign.update(status=CANCELLED, cancelled_at=now).where(Campaign.id == row.id).execute()
    return {"cancelled_notices": int(dropped), "coupons_withdrawn": int(withdrawn)}


def list_campaigns() -> list[Campaign]:
    return list(Campaign.select().order_by(Campaign.id))
