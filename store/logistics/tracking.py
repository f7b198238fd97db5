"""Parcel traces from the tracking provider (Kuaidi100-style, WECHAT.md §5): parsed, stored idempotently, and
turned into the buyer's notices. Pushes (`POST /logistics/notify`) and real-time queries (the polling fallback)
both end in `apply_trace`.

Ordering (decision): a trace is the provider's *full* trace, newest line first, so the newest trace wins and
nothing is merged. A trace replaces the stored one only when its newest line (`ftime`) is newer, or equally new
with more lines; anything else is a duplicate or a late re-push of an older state and changes nothing (it is
still acknowledged, or the provider would push it again). The shipment row is locked while deciding (SQLite has
one writer anyway), so concurrent duplicates apply once.

Notices: when the newest line's basic state differs from the stored one the buyer gets one `tracking` notice
(dedup key `tracking:{order}:{state}:{ftime}`), so 在途 → 在途 lines stay quiet and a push that skipped states
reports where the parcel is now. A new 疑难 line raises an operator alert and an apology
(store.logistics.parcel_alerts); 签收 completes the order; 退签/拒签/退回 and an aborted monitor alert operators.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from store.core.clock import SHANGHAI
from store.core.db import is_sqlite, write_transaction
from store.logistics.parcel_alerts import LogisticsRules, parcel_trouble, returned_alert
from store.logistics.shipments import SUB_DONE, SUB_FAILED, SUB_PENDING, Shipment, complete_signed, receiver_phone
from store.monitoring.ops_alerts import alert_operators
from store.outbox.kinds import Priority, format_time
from store.outbox.notices import enqueue_notice

log = logging.getLogger("wxshop.tracking")

STATE_NAMES = {
    "0": "在途", "1": "揽收", "2": "疑难", "3": "签收", "4": "退签", "5": "派件", "6": "退回", "7": "转投",
    "8": "清关", "14": "拒签",
}  # fmt: skip
STATE_LABELS = {
    "1": "已揽收", "0": "运输中", "5": "派送中", "3": "已签收", "2": "派送遇到问题", "4": "已退签", "6": "退回中",
    "7": "转投中", "8": "清关中", "14": "已拒签",
}  # fmt: skip
_BY_NAME = {name: code for code, name in STATE_NAMES.items()}
NOT_COLLECTED_CODES = frozenset({"101", "102"})  # 已下单, 待揽收: no courier has it yet
RETURN_STATES = frozenset({"4", "6", "14"})
FTIME = "%Y-%m-%d %H:%M:%S"


def basic_state(code: str) -> str | None:
    """The basic state of a Kuaidi100 code (1001 → 0, 103 → 1, 2xx → 2, 301 → 3…); None when unknown."""
    code = str(code or "").strip()
    if code in STATE_NAMES:
        return code
    if len(code) == 4 and code.startswith("10"):
        return "0"
    if len(code) == 3 and code[0] in STATE_NAMES:
        return code[0]
    return None


def state_label(state: str | None) -> str:
    return STATE_LABELS.get(state or "", "已发货")


# ---- parsing ----------------------------------------------------------------------------------------------------


class TraceInvalid(ValueError):
    """Not a trace we can read; the message says what is wrong."""


@dataclass(frozen=True)
class TraceLine:
    at: datetime
    context: str
    code: str | None  # the line's own code (advanced with resultv2=4), None without resultv2
    state: str | None  # its basic state
    area: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"time": self.at.strftime(FTIME), "context": self.context, "code": self.code, "state": self.state,
                "area": self.area}  # fmt: skip


@dataclass(frozen=True)
class Trace:
    company: str
    number: str
    lines: tuple[TraceLine, ...]  # newest first
    monitor: str = "polling"  # polling | shutdown | abort | updateall
    message: str = ""

    @property
    def newest(self) -> TraceLine | None:
        return self.lines[0] if self.lines else None


def _time(text: Any) -> datetime:
    try:
        return datetime.strptime(str(text).strip(), FTIME).replace(tzinfo=SHANGHAI)
    except ValueError:
        raise TraceInvalid(f"ftime {text!r} is not yyyy-mm-dd HH:MM:SS") from None


def parse_result(result: Mapping[str, Any], monitor: str = "polling", message: str = "") -> Trace:
    """A `lastResult` (push) or a real-time query's body."""
    company, number = str(result.get("com") or "").strip(), str(result.get("nu") or "").strip()
    if not company or not number:
        raise TraceInvalid("com and nu are required")
    data = result.get("data") or []
    if not isinstance(data, list):
        raise TraceInvalid("data must be a list")
    lines: list[TraceLine] = []
    for item in data:
        if not isinstance(item, Mapping):
            raise TraceInvalid("data items must be objects")
        code = str(item.get("statusCode") or "").strip() or _BY_NAME.get(str(item.get("status") or "")) or None
        area = str(item.get("areaName") or "")
        at = _time(item.get("ftime") or item.get("time"))
        lines.append(TraceLine(at, str(item.get("context") or "")[:255], code, basic_state(code or ""), area))
    lines.sort(key=lambda line: line.at, reverse=True)  # newest first, whatever order they came in
    if lines and lines[0].state is None:  # no per-line codes: the trace's own state is the newest line's
        state = basic_state(str(result.get("state") or ""))
        lines[0] = TraceLine(lines[0].at, lines[0].context, str(result.get("state") or "") or None, state,
                             lines[0].area)  # fmt: skip
    return Trace(company, number, tuple(lines), monitor, message)


def parse_push(param: str) -> Trace:
    """The `param` JSON of a push."""
    try:
        body = json.loads(param)
    except ValueError:
        raise TraceInvalid("param is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("lastResult"), dict):
        raise TraceInvalid("param has no lastResult")
    return parse_result(body["lastResult"], str(body.get("status") or "polling"), str(body.get("message") or ""))


# ---- applying -----------------------------------------------------------------------------------------------------


class Applied(StrEnum):
    UPDATED = "updated"  # a newer trace (or the end of monitoring) was stored
    DUPLICATE = "duplicate"  # the same trace again
    STALE = "stale"  # an older trace than the one stored (an out-of-order re-push)
    UNKNOWN = "unknown"  # no shipment with this company and number


def apply_trace(trace: Trace, now: datetime, rules: LogisticsRules, source: str = "push") -> Applied:
    """Store `trace` for every shipment of its parcel (see the module docstring)."""
    with write_transaction():
        query = Shipment.select().where(Shipment.carrier == trace.company, Shipment.tracking_no == trace.number)
        shipments = list(query if is_sqlite() else query.for_update())
        if not shipments:
            return Applied.UNKNOWN
        outcomes = {_apply_one(shipment, trace, now, rules, source) for shipment in shipments}
    for outcome in (Applied.UPDATED, Applied.DUPLICATE):
        if outcome in outcomes:
            return outcome
    return Applied.STALE


def _apply_one(shipment: Shipment, trace: Trace, now: datetime, rules: LogisticsRules, source: str) -> Applied:
    seen = {"last_push_at": now} if source == "push" else {"polled_at": now, "poll_error": None}
    newest, last = trace.newest, shipment.last_event_at
    newer = newest is not None and (
        last is None or newest.at > last or (newest.at == last and len(trace.lines) > shipment.events)
    )
    ends = trace.monitor in ("shutdown", "abort") and shipment.monitor == "polling"
    if not newer:
        same = (newest.at if newest else None) == last
        if ends and same:
            Shipment.update(monitor=trace.monitor, monitor_message=trace.message[:64], **seen).where(
                Shipment.id == shipment.id
            ).execute()
            _monitor_ended(shipment, trace, now, rules)
            return Applied.UPDATED
        Shipment.update(**seen).where(Shipment.id == shipment.id).execute()
        return Applied.DUPLICATE if same else Applied.STALE
    assert newest is not None
    fresh = [line for line in trace.lines if last is None or line.at > last]
    collected = shipment.collected or any(line.code not in NOT_COLLECTED_CODES for line in trace.lines)
    monitor = trace.monitor if trace.monitor in ("shutdown", "abort") else shipment.monitor
    Shipment.update(
        state=newest.state, state_code=newest.code, collected=collected, last_event_at=newest.at,
        last_context=newest.context[:255], events=len(trace.lines),
        trace=json.dumps([line.as_dict() for line in trace.lines], ensure_ascii=False), monitor=monitor,
        monitor_message=trace.message[:64] if monitor != "polling" else shipment.monitor_message, **seen,
    ).where(Shipment.id == shipment.id).execute()  # fmt: skip
    if newest.state != shipment.state and newest.state is not None:
        _notify_state(shipment, newest, now)
    for line in fresh:
        if line.state == "2":
            parcel_trouble(shipment, "difficult", f"difficult:{shipment.order_no}:{line.at:%Y%m%d%H%M%S}", now, rules)
    if newest.state == "3":
        complete_signed(shipment.order_no, now)
    elif newest.state in RETURN_STATES and newest.state != shipment.state:
        returned_alert(shipment, STATE_LABELS[newest.state], now, rules)
    if ends:
        _monitor_ended(shipment, trace, now, rules)
    return Applied.UPDATED


def _notify_state(shipment: Shipment, line: TraceLine, now: datetime) -> None:
    label = state_label(line.state)
    city = line.area.split(",")[-1] if line.area else ""
    state = f"{label}（{city}）" if city and line.state in ("0", "5") else label
    enqueue_notice(
        shipment.openid, "tracking",
        {"order_no": shipment.order_no, "tracking_no": shipment.tracking_no, "state": state[:20],
         "updated_at": format_time(line.at)},
        Priority.TRANSACTIONAL, now, dedup_key=f"tracking:{shipment.order_no}:{line.state}:{line.at:%Y%m%d%H%M%S}",
    )  # fmt: skip


def _monitor_ended(shipment: Shipment, trace: Trace, now: datetime, rules: LogisticsRules) -> None:
    """`abort` ("3天查询无记录", "60天无变化"): the number may be wrong or the parcel lost — operators look."""
    if trace.monitor == "abort":
        alert_operators(rules.operators, "物流停止跟踪", shipment.order_no, f"abort:{shipment.order_no}", now)


# ---- the provider -------------------------------------------------------------------------------------------------


class TrackingError(Exception):
    """The provider refused (`code` is its returnCode) or could not be reached (`code` None)."""

    def __init__(self, code: str | None, message: str = "") -> None:
        super().__init__(f"tracking provider {code or 'unreachable'}: {message}")
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.code in (None, "500", "502", "503")


class TrackingProvider(Protocol):
    """What the jobs need from Kuaidi100 (blocking calls; `bot.logistics.client` implements it)."""

    def subscribe(self, company: str, number: str, phone: str) -> None:
        """订阅: pushes for this parcel start coming to our callback. Raises `TrackingError`."""
        ...

    def query(self, company: str, number: str, phone: str) -> Mapping[str, Any]:
        """实时查询: the current trace (a `lastResult`-shaped body). Raises `TrackingError`."""
        ...


ALREADY_SUBSCRIBED = "501"  # POLL:重复订阅 — pushes already come to us
SUBSCRIBE_LEASE = timedelta(minutes=10)
SUBSCRIBE_BACKOFF = timedelta(minutes=5)
SUBSCRIBE_BACKOFF_CAP = timedelta(hours=6)
SUBSCRIBE_MAX_ATTEMPTS = 12


def subscribe_due(provider: TrackingProvider, now: datetime, rules: LogisticsRules, limit: int = 100) -> int:
    """Subscribe pending shipments (claimed one by one under a lease, so two workers do not both call);
    transient failures back off, permanent ones fail the subscription and alert operators. Returns how many
    were subscribed."""
    query = (
        Shipment.select(Shipment.id)
        .where(Shipment.sub_status == SUB_PENDING, Shipment.sub_due_at <= now)
        .order_by(Shipment.sub_due_at)
        .limit(limit)
    )
    done = 0
    for (shipment_id,) in list(query.tuples()):
        with write_transaction():
            claimed = (
                Shipment.update(sub_due_at=now + SUBSCRIBE_LEASE, sub_attempts=Shipment.sub_attempts + 1)
                .where(Shipment.id == shipment_id, Shipment.sub_status == SUB_PENDING, Shipment.sub_due_at <= now)
                .execute()
            )
        if not claimed:
            continue
        shipment = Shipment.get_by_id(shipment_id)
        try:
            provider.subscribe(shipment.carrier, shipment.tracking_no, receiver_phone(shipment))
        except TrackingError as exc:
            _subscribe_failed(shipment, exc, now, rules)
            continue
        with write_transaction():
            Shipment.update(sub_status=SUB_DONE, subscribed_at=now, sub_error=None).where(
                Shipment.id == shipment_id
            ).execute()
        done += 1
    return done


def _subscribe_failed(shipment: Shipment, exc: TrackingError, now: datetime, rules: LogisticsRules) -> None:
    if exc.code == ALREADY_SUBSCRIBED:
        with write_transaction():
            Shipment.update(sub_status=SUB_DONE, subscribed_at=now, sub_error=str(exc)[:200]).where(
                Shipment.id == shipment.id
            ).execute()
        return
    log.warning("parcel subscription failed", extra={"order_no": shipment.order_no, "error": str(exc)})
    with write_transaction():
        if exc.retryable and shipment.sub_attempts < SUBSCRIBE_MAX_ATTEMPTS:
            delay = min(SUBSCRIBE_BACKOFF_CAP, SUBSCRIBE_BACKOFF * 2 ** max(0, shipment.sub_attempts - 1))
            Shipment.update(sub_due_at=now + delay, sub_error=str(exc)[:200]).where(
                Shipment.id == shipment.id
            ).execute()
            return
        Shipment.update(sub_status=SUB_FAILED, sub_error=str(exc)[:200]).where(Shipment.id == shipment.id).execute()
        alert_operators(rules.operators, "物流订阅失败", shipment.order_no, f"subscribe:{shipment.order_no}", now)


def parcels_to_poll(now: datetime, stall: timedelta, limit: int = 200) -> list[Shipment]:
    """Parcels still travelling with no news for `stall` (nor a poll in that time): the polling fallback's work."""
    quiet_since = now - stall
    # Compared field by field (not through COALESCE) so the time is converted like the stored wall time.
    quiet = (Shipment.last_event_at <= quiet_since) | (
        Shipment.last_event_at.is_null() & (Shipment.shipped_at <= quiet_since)
    )
    query = (
        Shipment.select()
        .where(
            Shipment.monitor == "polling",
            (Shipment.state.is_null()) | (Shipment.state.not_in(["3", "4"])),
            quiet,
            (Shipment.last_push_at.is_null()) | (Shipment.last_push_at <= quiet_since),
            (Shipment.polled_at.is_null()) | (Shipment.polled_at <= quiet_since),
        )
        .order_by(Shipment.shipped_at)
        .limit(limit)
    )
    return list(query)


def poll_due(provider: TrackingProvider, now: datetime, rules: LogisticsRules, limit: int = 200) -> int:
    """Ask the provider for the trace of every quiet parcel and apply it like a push; the poll is recorded
    (`polled_at`) whatever the answer, so the stall alert knows polling did not help. Returns traces applied."""
    applied = 0
    for shipment in parcels_to_poll(now, rules.stall, limit):
        try:
            body = provider.query(shipment.carrier, shipment.tracking_no, receiver_phone(shipment))
            trace = parse_result(body)
        except (TrackingError, TraceInvalid) as exc:
            with write_transaction():
                Shipment.update(polled_at=now, poll_error=str(exc)[:200]).where(Shipment.id == shipment.id).execute()
            continue
        applied += apply_trace(trace, now, rules, source="poll") is Applied.UPDATED
        with write_transaction():  # also when the trace was not new: this poll happened
            Shipment.update(polled_at=now).where(Shipment.id == shipment.id).execute()
    return applied


def trace_lines(shipment: Shipment) -> list[dict[str, Any]]:
    """The stored trace, newest first (as `TraceLine.as_dict`)."""
    return json.loads(shipment.trace or "[]")
