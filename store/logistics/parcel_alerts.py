"""Parcels in trouble: not collected `not_collected_hours` after shipping, stuck with no news for `stall_hours`
even after polling, or in 疑难 — each raises an operator alert and an apology to the buyer (with a coupon when
`[logistics] apology_coupon` names a coupon template), in the transaction that records it.

Idempotent by construction: a sweep's alert is a conditional UPDATE of its column on the shipment
(`alerted_not_collected_at` once per parcel; `alerted_stall_for` once per stall, keyed by the newest line's time,
so a parcel that moves and then stalls again is reported again), and every notice carries a dedup key. A sweep
run twice, or by two workers at once, alerts once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from store.core.db import write_transaction
from store.logistics.shipments import Shipment
from store.monitoring.ops_alerts import alert_operators
from store.outbox.kinds import Priority, format_time
from store.outbox.notices import enqueue_notice
from store.promotions.coupons import CouponError, issue_coupon

log = logging.getLogger("wxshop.parcels")

ISSUES = {  # kind → (the operators' subject, what the buyer is told; each ≤ 20 characters)
    "not_collected": ("超时未揽收", "发货后迟迟未被揽收"),
    "stalled": ("物流长时间未更新", "物流信息长时间未更新"),
    "difficult": ("疑难件", "派送遇到问题"),
}


@dataclass(frozen=True)
class LogisticsRules:
    """The `[logistics]` and `[shop]` settings the tracking code needs, read once from config."""

    stall: timedelta = timedelta(hours=24)
    not_collected: timedelta = timedelta(hours=72)
    operators: tuple[str, ...] = ()
    apology_coupon: str = ""  # a coupon template code; empty = apologise without a coupon

    @classmethod
    def from_settings(cls, logistics: Any, shop: Any) -> LogisticsRules:
        return cls(
            stall=timedelta(hours=int(logistics.stall_hours)),
            not_collected=timedelta(hours=int(logistics.not_collected_hours)),
            operators=tuple(shop.operator_openids),
            apology_coupon=str(getattr(logistics, "apology_coupon", "") or ""),
        )


def parcel_trouble(shipment: Shipment, kind: str, key: str, now: datetime, rules: LogisticsRules) -> None:
    """Alert operators and apologise to the buyer (inside the caller's transaction; `key` names the occurrence)."""
    subject, issue = ISSUES[kind]
    alert_operators(rules.operators, subject, shipment.order_no, key, now)
    enqueue_notice(
        shipment.openid, "parcel_issue",
        {"order_no": shipment.order_no, "issue": issue, "raised_at": format_time(now)},
        Priority.TRANSACTIONAL, now, dedup_key=f"issue:{key}"[:128],
    )  # fmt: skip
    if rules.apology_coupon:
        _apology_coupon(shipment, key, now, rules.apology_coupon)


def _apology_coupon(shipment: Shipment, key: str, now: datetime, template: str) -> None:
    try:
        coupon = issue_coupon(shipment.openid, template, now, source=f"apology:{shipment.order_no}")
    except CouponError as exc:  # a misconfigured template must not stop the alert
        log.warning("apology coupon not issued", extra={"template": template, "error": str(exc)})
        return
    enqueue_notice(
        shipment.openid, "apology_coupon", {"coupon": coupon.template.describe()[:20]}, Priority.TRANSACTIONAL, now,
        dedup_key=f"apology:{key}"[:128],
    )  # fmt: skip


def returned_alert(shipment: Shipment, label: str, now: datetime, rules: LogisticsRules) -> None:
    """退签 / 拒签 / 退回: the goods are coming back; operators decide what to do with the order."""
    alert_operators(rules.operators, f"包裹{label}", shipment.order_no, f"return:{shipment.order_no}:{label}", now)


# ---- sweeps ---------------------------------------------------------------------------------------------------------


def alert_not_collected(now: datetime, rules: LogisticsRules, limit: int = 500) -> int:
    """Parcels shipped `not_collected` ago that no courier has picked up yet."""
    query = (
        Shipment.select(Shipment.id)
        .where(
            Shipment.collected == False,  # noqa: E712
            Shipment.alerted_not_collected_at.is_null(),
            Shipment.shipped_at <= now - rules.not_collected,
            Shipment.monitor != "shutdown",
        )
        .order_by(Shipment.shipped_at)
        .limit(limit)
    )
    raised = 0
    for (shipment_id,) in list(query.tuples()):
        with write_transaction():
            claimed = (
                Shipment.update(alerted_not_collected_at=now)
                .where(
                    Shipment.id == shipment_id, Shipment.alerted_not_collected_at.is_null(),
                    Shipment.collected == False,  # noqa: E712
                )
                .execute()
            )  # fmt: skip
            if claimed:
                shipment = Shipment.get_by_id(shipment_id)
                parcel_trouble(shipment, "not_collected", f"not_collected:{shipment.order_no}", now, rules)
                raised += 1
    return raised


def alert_stalled(now: datetime, rules: LogisticsRules, limit: int = 500) -> int:
    """Collected parcels still travelling whose newest line is `stall` old, polled since the stall began and
    still without news: the polling fallback did not help."""
    query = (
        Shipment.select()
        .where(
            Shipment.collected == True,  # noqa: E712
            Shipment.monitor == "polling",
            Shipment.state.not_in(["3", "4"]),
            Shipment.last_event_at <= now - rules.stall,
            Shipment.polled_at.is_null(False),
            (Shipment.alerted_stall_for.is_null()) | (Shipment.alerted_stall_for != Shipment.last_event_at),
        )
        .order_by(Shipment.last_event_at)
        .limit(limit)
    )
    raised = 0
    for shipment in list(query):
        if shipment.polled_at < shipment.last_event_at + rules.stall:
            continue  # not polled since it went quiet: the polling job goes first
        with write_transaction():
            claimed = (
                Shipment.update(alerted_stall_for=shipment.last_event_at)
                .where(
                    Shipment.id == shipment.id, Shipment.last_event_at == shipment.last_event_at,
                    (Shipment.alerted_stall_for.is_null()) | (Shipment.alerted_stall_for != shipment.last_event_at),
                )
                .execute()
            )  # fmt: skip
            if claimed:
                key = f"stalled:{shipment.order_no}:{shipment.last_event_at:%Y%m%d%H%M%S}"
                parcel_trouble(shipment, "stalled", key, now, rules)
                raised += 1
    return raised
