"""The tier-change service notice, queued in the transaction that changes the tier (a payment, a refund, the
nightly sweep). Its fields are template-friendly: the tier's name and the time, no marketing words."""

from __future__ import annotations

from datetime import datetime

from store.orders.pricing import Tier
from store.outbox.kinds import Priority, format_time
from store.outbox.notices import enqueue_notice, lint_notice_fields


def tier_notice_fields(tier: Tier, now: datetime) -> dict[str, str]:
    return lint_notice_fields("tier_change", {"tier": tier.label, "changed_at": format_time(now)})


def notify_tier_change(openid: str, tier: Tier, now: datetime, cause: str) -> int:
    """Queue "您的会员等级已变更为…"; `cause` (a payment or refund reference, a sweep day) keys the dedup."""
    return enqueue_notice(
        openid,
        "tier_change",
        tier_notice_fields(tier, now),
        Priority.SERVICE,
        now,
        dedup_key=f"tier:{openid}:{cause}"[:128],
    )
