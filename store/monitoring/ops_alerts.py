"""Operator alerts: an `ops_alert` notice to every openid in `[shop] operator_openids`, queued in the outbox inside
the caller's transaction (so an alert exists exactly when the change that raised it committed).

`key` names the occurrence ("not_collected:ORDER_NO", "sla:AS…:due"): each operator gets one notice per key
however often the sweep that raised it runs (the outbox's unique `dedup_key`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from store.outbox.kinds import Priority, format_time
from store.outbox.notices import enqueue_notice

log = logging.getLogger("wxshop.ops")
MAX_DEDUP = 128


def alert_operators(operators: Sequence[str], subject: str, ref: str, key: str, now: datetime) -> int:
    """Queue one `ops_alert` per operator; returns how many operators there are (0: logged only)."""
    if not operators:
        log.warning("operator alert with no [shop] operator_openids", extra={"subject": subject, "ref": ref})
        return 0
    for openid in operators:
        dedup = f"ops:{key}:{openid}"
        enqueue_notice(
            openid, "ops_alert", {"subject": subject[:20], "ref": ref, "raised_at": format_time(now)},
            Priority.SERVICE, now, dedup_key=dedup[:MAX_DEDUP],
        )  # fmt: skip
    log.info("operator alert", extra={"subject": subject, "ref": ref, "key": key})
    return len(operators)
