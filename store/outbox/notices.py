"""The outbox: every notice the shop sends on its own initiative, written in the same transaction as the business
change that causes it, then delivered by the dispatcher (scheduler/outbox.py).

Life of a notice: pending → sending (claimed by one dispatcher under a lease) → sent (channel custom or template)
→ delivered / failed (TEMPLATESENDJOBFINISH); or back to pending with a later `due_at` (retry with backoff, or
the template quota is spent until tomorrow); or dropped / failed with a reason; or in_doubt. The outbox id is the
template `client_msg_id`, so a resend after a crash is answered 45065 by WeChat instead of reaching the follower
twice. Before a send starts, the claim records which channel it uses (`attempt_started_at`).

`in_doubt` is the truth when nobody knows whether the follower got the message: a customer-service send in flight
when its worker died, or one that got no answer (timeout, broken connection) — WeChat has no idempotency key for
those, so nothing sends them again on its own; and a template send whose `client_msg_id` WeChat no longer
remembers. An operator lists them and may queue one again (`retry_notice`), knowing it may arrive twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, database, datetime_value, is_sqlite, write_transaction
from store.core.hot_sql import Insert
from store.outbox.kinds import Priority, kind_of
from store.outbox.template_lint import TemplateLintError, value_problems

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
DELIVERED = "delivered"
FAILED = "failed"
DROPPED = "dropped"
IN_DOUBT = "in_doubt"
CUSTOM = "custom"
TEMPLATE = "template"
ID_CHUNK = 300  # ids per UPDATE … WHERE id IN (…)


class Notice(BaseModel):
    id = peewee.BigAutoField()
    openid = peewee.CharField(max_length=64, index=True)
    kind = peewee.CharField(max_length=32)
    priority = peewee.SmallIntegerField()
    fields = peewee.TextField()  # JSON object of formatted strings
    dedup_key = peewee.CharField(max_length=128, null=True, unique=True)
    status = peewee.CharField(max_length=16)
    channel = peewee.CharField(max_length=16, null=True)
    reason = peewee.CharField(max_length=255, null=True)
    attempts = peewee.IntegerField(default=0)
    due_at = ShanghaiDateTimeField()
    lease_owner = peewee.CharField(max_length=96, null=True)
    lease_until = ShanghaiDateTimeField(null=True)
    attempt_started_at = ShanghaiDateTimeField(null=True)
    msgid = peewee.BigIntegerField(null=True, index=True)
    delivery_status = peewee.CharField(max_length=64, null=True)
    created_at = ShanghaiDateTimeField()
    sent_at = ShanghaiDateTimeField(null=True)
    finished_at = ShanghaiDateTimeField(null=True)

    class Meta:
        indexes = (
            (("status", "priority", "due_at", "id"), False),
            (("status", "lease_until"), False),
        )

    @property
    def client_msg_id(self) -> str:
        return client_msg_id(self.id)

    def values(self) -> dict[str, str]:
        return json.loads(self.fields)


class TemplateReceipt(BaseModel):
    """A TEMPLATESENDJOBFINISH that arrived before its send was recorded: applied when the msgid shows up."""

    msgid = peewee.BigIntegerField(primary_key=True)
    status = peewee.CharField(max_length=64)
    at = ShanghaiDateTimeField(null=True)


def client_msg_id(notice_id: int) -> str:
    return f"wxshop-{notice_id}"


# -- writing notices ---------------------------------------------------------------------------------------------


def enqueue_notice(
    openid: str,
    kind: str,
    fields: Mapping[str, str | int],
    priority: Priority,
    now: datetime,
    dedup_key: str | None = None,
) -> int:
    """Queue a notice; returns its id. Call it inside the `write_transaction()` of the change that causes it, so
    both commit or neither does. `dedup_key` (e.g. "paid:ORDER_NO") makes a repeated call return the first id.
    Raises `UnknownNoticeKind` or `TemplateLintError` (loudly, at the source) when the notice is malformed."""
    values = lint_notice_fields(kind, fields)
    row = {
        "openid": openid,
        "kind": kind,
        "priority": int(Priority(priority)),
        "fields": json.dumps(values, ensure_ascii=False, sort_keys=True),
        "dedup_key": dedup_key,
        "status": PENDING,
        "due_at": now,
        "created_at": now,
    }
    with nullcontext() if database.in_transaction() else write_transaction():
        if dedup_key is None:
            return int(Notice.insert(**row).execute())
        Notice.insert(**row).on_conflict_ignore().execute()
        return int(Notice.select(Notice.id).where(Notice.dedup_key == dedup_key).scalar())



class NoticeRequest(NamedTuple):
    openid: str
    kind: str
    fields: Mapping[str, str | int]
    priority: Priority
    dedup_key: str


_INSERT_NOTICES = Insert(
    Notice, ("openid", "kind", "priority", "fields", "dedup_key", "status", "attempts", "due_at", "created_at")
)


def enqueue_notices(requests: Sequence[NoticeRequest], now: datetime) -> int:
    """`enqueue_notice` for a sweep's batch, inside its transaction: each linted, all in one INSERT, a key queued
    already skipped. Returns how many were queued."""
    rows = [
        {"openid": r.openid, "kind": r.kind, "priority": int(Priority(r.priority)),
         "fields": json.dumps(lint_notice_fields(r.kind, r.fields), ensure_ascii=False, sort_keys=True),
         "dedup_key": r.dedup_key, "status": PENDING, "attempts": 0, "due_at": now, "created_at": now}
        for r in requests
    ]  # fmt: skip
    return _INSERT_NOTICES.execute_new(rows)


def enqueue_selected(
    source: peewee.ModelSelect,
    openid: peewee.Node,
    kind: str,
    fields: peewee.Node,
    dedup_key: peewee.Node,
    priority: Priority,
    now: datetime,
    due_at: peewee.Node | None = None,
) -> int:
    """Queue one notice per row of `source` in a single INSERT … SELECT (the daily sweeps reach a million members):
    `openid`, `fields` (a JSON object built in SQL) and `dedup_key` are expressions over its rows; `due_at`, when
    given, too (a throttled campaign spreads its notices over minutes). A row whose key is queued already is
    skipped, so a sweep run twice queues once. Returns how many were queued. The fields are the sweep's own (not
    linted here): keep them to what `lint_notice_fields` accepts for `kind`."""
    at = datetime_value(now)
    rows = source.select(
        openid, peewee.Value(kind), peewee.Value(int(priority)), fields, dedup_key, peewee.Value(PENDING),
        peewee.Value(0), at if due_at is None else due_at, at,
    )  # fmt: skip
    columns = [
        Notice.openid, Notice.kind, Notice.priority, Notice.fields, Notice.dedup_key, Notice.status,
        Notice.attempts, Notice.due_at, Notice.created_at,
    ]  # fmt: skip
    return int(Notice.insert_from(rows, columns).on_conflict_ignore().as_rowcount().execute())

def lint_notice_fields(kind: str, fields: Mapping[str, str | int]) -> dict[str, str]:
    """The fields as strings, or `TemplateLintError` listing every problem (service notices must also pass the
    template rules: they may be sent as template messages)."""
    spec = kind_of(kind)
    problems: list[str] = []
    values: dict[str, str] = {}
    for name, value in fields.items():
        if name not in spec.fields:
            problems.append(f"{name}: not a field of {kind} (fields: {', '.join(spec.fields)})")
        elif isinstance(value, bool) or not isinstance(value, str | int):
            problems.append(f"{name}: expected a string, got {type(value).__name__}")
        else:
            values[name] = str(value)
    for name, value_type in spec.fields.items():
        if name not in fields:
            problems.append(f"{name}: missing")
        elif name in values:
            if spec.service:
                problems.extend(value_problems(name, value_type, values[name]))
            elif not values[name].strip():
                problems.append(f"{name}: empty")
    if problems:
        raise TemplateLintError([f"{kind} notice: {p}" for p in problems])
    return values


def record_template_result(msgid: int, status: str, now: datetime | None = None) -> bool:
    """TEMPLATESENDJOBFINISH: `success` → delivered, anything else (`failed:user block`…) → failed. Returns
    whether a notice was updated. Called by the template-finish event handler.

    The push can beat the dispatcher's record of the send (msgid not yet committed): the result is then kept as
    a receipt (committed) and the update tried once more, while the dispatcher applies receipts after it commits
    its msgids — whichever runs second sees the other's commit, so no result is lost."""
    status = (status or "").strip()[:64]
    if _apply_result(msgid, status, now):
        return True
    with write_transaction():
        if Notice.select().where((Notice.msgid == msgid) & Notice.status.in_([DELIVERED, FAILED])).exists():
            return False  # already final: WeChat repeated the push
        TemplateReceipt.insert(msgid=msgid, status=status, at=now).on_conflict_ignore().execute()
    if _apply_result(msgid, status, now):
        TemplateReceipt.delete().where(TemplateReceipt.msgid == msgid).execute()
        return True
    return False


def _apply_result(msgid: int, status: str, at: datetime | None) -> int:
    final = DELIVERED if status == "success" else FAILED
    with write_transaction():
        return (
            Notice.update(status=final, delivery_status=status, finished_at=at)
            .where((Notice.msgid == msgid) & (Notice.status == SENT) & (Notice.channel == TEMPLATE))
            .execute()
        )


def apply_receipts(msgids: Iterable[int] | None = None) -> int:
    """Apply early TEMPLATESENDJOBFINISH receipts to notices now recorded as sent (all, or these msgids)."""
    query = TemplateReceipt.select()
    wanted = None if msgids is None else list(msgids)
    applied = 0
    for chunk in [wanted] if wanted is None else _chunks(wanted):
        receipts = list(query if chunk is None else query.where(TemplateReceipt.msgid.in_(chunk)))
        for receipt in receipts:
            final = DELIVERED if receipt.status == "success" else FAILED
            applied += (
                Notice.update(status=final, delivery_status=receipt.status, finished_at=receipt.at)
                .where((Notice.msgid == receipt.msgid) & (Notice.status == SENT))
                .execute()
            )
            TemplateReceipt.delete().where(TemplateReceipt.msgid == receipt.msgid).execute()
    return applied


def purge_receipts(before: datetime) -> int:
    """Receipts for msgids we never recorded (sends of another system, or lost to a crash) are kept a while."""
    return TemplateReceipt.delete().where(TemplateReceipt.at < before).execute()


# -- claiming and recording (the dispatcher's side) ----------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A notice claimed for one send attempt. `previous_*` describe an attempt a dead dispatcher left behind."""

    id: int
    openid: str
    kind: str
    priority: int
    values: dict[str, str]
    attempts: int
    previous_channel: str | None = None
    previous_started_at: datetime | None = None
    previous_owner: str | None = None  # set when taken over from a dead or overrun dispatcher
    link: str | None = None  # a tracked link the message carries (a campaign's), set by the dispatcher

    @property
    def client_msg_id(self) -> str:
        return client_msg_id(self.id)


def claim_due(
    now: datetime, limit: int, owner: str, lease: timedelta, dead_owners: Sequence[str] = ()
) -> list[Claimed]:
    """Claim up to `limit` due notices for `owner` (a unique token per batch): pending ones whose time has come,
    by priority, and sending ones whose lease expired or whose owner is dead. A conditional update under row
    locks (SKIP LOCKED on PostgreSQL; SQLite has one writer): no notice is ever claimed by two batches."""
    stale = (Notice.status == SENDING) & (Notice.lease_until < now)
    if dead_owners:
        stale = stale | ((Notice.status == SENDING) & Notice.lease_owner.in_(list(dead_owners)))
    columns = (
        Notice.id, Notice.openid, Notice.kind, Notice.priority, Notice.fields, Notice.attempts, Notice.status,
        Notice.channel, Notice.attempt_started_at, Notice.lease_owner,
    )  # fmt: skip
    with write_transaction():
        rows = list(_locked(Notice.select(*columns).where(stale).order_by(Notice.id).limit(limit)).tuples())
        if len(rows) < limit:
            due = (Notice.status == PENDING) & (Notice.due_at <= now)
            order = (Notice.priority, Notice.due_at, Notice.id)
            query = Notice.select(*columns).where(due).order_by(*order).limit(limit - len(rows))
            rows += list(_locked(query).tuples())
        if not rows:
            return []
        for chunk in _chunks([r[0] for r in rows]):
            Notice.update(status=SENDING, lease_owner=owner, lease_until=now + lease).where(
                Notice.id.in_(chunk) & (stale | (Notice.status == PENDING))
            ).execute()
    claimed = []
    for nid, openid, kind, priority, fields, attempts, status, channel, started_at, lease_owner in rows:
        held = status == SENDING  # taken over from a dispatcher that died or overran its lease
        # a pending notice that keeps its channel is a template send that got no answer: the same one again
        again = held or (channel == TEMPLATE and started_at is not None)
        claimed.append(
            Claimed(
                id=nid,
                openid=openid,
                kind=kind,
                priority=priority,
                values=json.loads(fields),
                attempts=attempts,
                previous_channel=channel if again else None,
                previous_started_at=started_at if again else None,
                previous_owner=lease_owner if held else None,
            )
        )
    return claimed


def _locked(query: peewee.ModelSelect) -> peewee.ModelSelect:
    return query if is_sqlite() else query.for_update(skip_locked=True)


def sending_owners() -> list[str]:
    """The batch tokens holding notices right now (to find the ones whose dispatcher died)."""
    query = Notice.select(Notice.lease_owner).where(Notice.status == SENDING).distinct()
    return [owner for (owner,) in query.tuples() if owner]


def mark_started(owner: str, by_channel: Mapping[str, Sequence[int]], now: datetime) -> None:
    """Write ahead, before the sends: these notices go out now, on these channels."""
    if not any(by_channel.values()):
        return
    with write_transaction():
        for channel, ids in by_channel.items():
            for chunk in _chunks(list(ids)):
                Notice.update(channel=channel, attempt_started_at=now).where(
                    Notice.id.in_(chunk) & (Notice.lease_owner == owner) & (Notice.status == SENDING)
                ).execute()


@dataclass
class Outcomes:
    """What one batch's sends came to, recorded together by `record_outcomes`."""

    sent_custom: list[int] = field(default_factory=list)
    sent_template: dict[int, int | None] = field(default_factory=dict)  # id → msgid
    dropped: dict[int, str] = field(default_factory=dict)  # id → reason
    failed: dict[int, str] = field(default_factory=dict)  # id → reason (attempted, terminal)
    retry: dict[int, tuple[datetime, str]] = field(default_factory=dict)  # id → (due_at, reason)
    deferred: dict[int, tuple[datetime, str]] = field(default_factory=dict)  # not attempted: quota, pause
    resend: dict[int, tuple[datetime, str]] = field(default_factory=dict)  # template, no answer: same send again
    in_doubt: dict[int, str] = field(default_factory=dict)  # id → why nobody knows whether it arrived

    def count(self) -> int:
        return (
            len(self.sent_custom) + len(self.sent_template) + len(self.dropped) + len(self.failed)
            + len(self.retry) + len(self.deferred) + len(self.resend) + len(self.in_doubt)
        )  # fmt: skip


def record_outcomes(owner: str, outcomes: Outcomes, now: datetime) -> int:
    """Record a batch in one transaction (then apply early receipts); only rows still held by `owner` change.
    Returns the rows updated."""
    mine = (Notice.lease_owner == owner) & (Notice.status == SENDING)
    released = {"lease_owner": None, "lease_until": None}
    done = 0
    with write_transaction():
        for chunk in _chunks(outcomes.sent_custom):
            done += _update(chunk, mine, status=SENT, channel=CUSTOM, sent_at=now, reason=None,
                            attempts=Notice.attempts + 1, **released)  # fmt: skip
        sent = list(outcomes.sent_template.items())
        for i in range(0, len(sent), ID_CHUNK):
            part = sent[i : i + ID_CHUNK]
            with_ids = [(nid, mid) for nid, mid in part if mid is not None]
            msgid = peewee.Case(Notice.id, with_ids, None) if with_ids else None
            done += _update([nid for nid, _ in part], mine, status=SENT, channel=TEMPLATE, sent_at=now,
                            reason=None, msgid=msgid, attempts=Notice.attempts + 1, **released)  # fmt: skip
        for reason, ids in _by_value(outcomes.dropped).items():
            for chunk in _chunks(ids):
                done += _update(chunk, mine, status=DROPPED, reason=reason[:255], finished_at=now, **released)
        for reason, ids in _by_value(outcomes.failed).items():
            for chunk in _chunks(ids):
                done += _update(chunk, mine, status=FAILED, reason=reason[:255], finished_at=now,
                                attempts=Notice.attempts + 1, **released)  # fmt: skip
        for reason, ids in _by_value(outcomes.in_doubt).items():
            for chunk in _chunks(ids):
                done += _update(chunk, mine, status=IN_DOUBT, reason=reason[:255], attempts=Notice.attempts + 1,
                                **released)  # fmt: skip
        for (due_at, reason), ids in _by_value(outcomes.resend).items():
            for chunk in _chunks(ids):  # keeps its channel and start: see claim_due
                done += _update(chunk, mine, status=PENDING, due_at=due_at, reason=reason[:255],
                                attempts=Notice.attempts + 1, **released)  # fmt: skip
        for retry, attempted in ((outcomes.retry, True), (outcomes.deferred, False)):
            for (due_at, reason), ids in _by_value(retry).items():
                extra = {"attempts": Notice.attempts + 1} if attempted else {}
                for chunk in _chunks(ids):
                    done += _update(chunk, mine, status=PENDING, due_at=due_at, reason=reason[:255], channel=None,
                                    attempt_started_at=None, **extra, **released)  # fmt: skip
    msgids = [m for m in outcomes.sent_template.values() if m is not None]
    if msgids and TemplateReceipt.select().exists():  # after the commit: see record_template_result
        with write_transaction():
            apply_receipts(msgids)
    return done


def _update(ids: Sequence[int], mine: peewee.Expression, **values: object) -> int:
    return Notice.update(**values).where(Notice.id.in_(list(ids)) & mine).execute()


def _by_value(mapping: Mapping[int, object]) -> dict[object, list[int]]:
    groups: dict[object, list[int]] = {}
    for key, value in mapping.items():
        groups.setdefault(value, []).append(key)
    return groups


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i : i + ID_CHUNK]) for i in range(0, len(ids), ID_CHUNK)]


# -- reading -------------------------------------------------------------------------------------------------------


def template_attempts_since(start: datetime) -> int:
    """Template sends started since `start` (the day's quota use as far as the database knows: Redis lost it)."""
    return Notice.select().where((Notice.channel == TEMPLATE) & (Notice.attempt_started_at >= start)).count()


def status_counts() -> dict[str, int]:
    query = Notice.select(Notice.status, peewee.fn.COUNT(Notice.id)).group_by(Notice.status)
    return {status: count for status, count in query.tuples()}


def list_notices(
    status: str | None, kind: str | None, openid: str | None, page: int, per_page: int
) -> tuple[list[Notice], int]:
    """A page of notices, newest first, with the total matching the filters (for the operators' view)."""
    query = Notice.select()
    if status:
        query = query.where(Notice.status == status)
    if kind:
        query = query.where(Notice.kind == kind)
    if openid:
        query = query.where(Notice.openid == openid)
    total = query.count()
    return list(query.order_by(Notice.id.desc()).paginate(page, per_page)), total


def channel_counts() -> dict[str, int]:
    """Notices sent or delivered, by channel (customer-service message or template)."""
    query = (
        Notice.select(Notice.channel, peewee.fn.COUNT(Notice.id))
        .where(Notice.status.in_([SENT, DELIVERED]))
        .group_by(Notice.channel)
    )
    return {channel: count for channel, count in query.tuples()}


def oldest_due(now: datetime) -> datetime | None:
    """When the longest-waiting pending notice that is due became due (how far behind delivery is)."""
    return Notice.select(peewee.fn.MIN(Notice.due_at)).where(Notice.status == PENDING, Notice.due_at <= now).scalar()


RETRYABLE = (FAILED, DROPPED, IN_DOUBT)


class NotRetryable(Exception):
    """The notice is not one an operator may send again; the message says why."""


def retry_notice(notice_id: int, now: datetime, operator: str = "") -> str:
    """Put a failed, dropped or in-doubt notice back in the queue, due now, for an operator; returns the status it
    had. A dropped notice never went out, a failed one WeChat refused or could not deliver; one in doubt may have
    arrived, and the operator who queues it again (having asked the follower) accepts that. One conditional
    UPDATE, so concurrent retries queue it once. Raises `Notice.DoesNotExist` or `NotRetryable`."""
    reason = f"retried by {operator or 'an operator'}"[:255]
    with write_transaction():
        notice = Notice.get_by_id(notice_id)
        moved = (
            Notice.update(
                status=PENDING, due_at=now, reason=reason, channel=None, msgid=None, delivery_status=None,
                attempt_started_at=None, finished_at=None, lease_owner=None, lease_until=None,
            )
            .where((Notice.id == notice_id) & (Notice.status == notice.status) & Notice.status.in_(RETRYABLE))
            .execute()
        )  # fmt: skip
    if not moved:
        now_status = Notice.get_by_id(notice_id).status  # another operator's retry may just have moved it
        raise NotRetryable(f"only failed, dropped or in-doubt notices are sent again; this one is {now_status}")
    return notice.status


def in_doubt_count() -> int:
    return Notice.select().where(Notice.status == IN_DOUBT).count()
