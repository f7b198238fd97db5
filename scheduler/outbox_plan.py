"""Pure decisions of the outbox: which channel a notice takes, what WeChat's answer means, when to try again.

Channel (WECHAT.md §2.2, §2.3): a customer-service message when the follower's window allows one; else a
template message if the notice is a service notice with a template configured; else dropped with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from store.core.wechat_errors import (
    DuplicateMessage,
    InvalidOpenid,
    NotFollowing,
    OutOfResponseCount,
    OutOfWindow,
    QuotaExceeded,
    TokenInvalid,
    WeChatError,
)
from store.outbox.kinds import NoticeKind
from store.outbox.notices import CUSTOM, TEMPLATE, Claimed
from store.outbox.templates import TemplateSpec
from store.outbox.windows import GRANTED, WindowVerdict

Verdict = Literal["sent", "fallback", "drop", "retry", "fail", "close_day"]


@dataclass(frozen=True)
class Drop:
    reason: str


@dataclass(frozen=True)
class InDoubt:
    """Nobody knows whether the follower got it: not sent again but by an operator."""

    reason: str


def choose_channel(
    kind: NoticeKind, window: WindowVerdict, templates: Mapping[str, TemplateSpec]
) -> Literal["custom", "template"] | Drop:
    if window in GRANTED and not kind.template_only:
        return CUSTOM
    if kind.template_only:
        where = "template messages only"
    else:
        where = "no customer-service window" if window == "closed" else "customer-service window used up"
    if not kind.service:
        return Drop(f"not_service_notice: {where}, and {kind.name} may not go as a template message")
    if kind.name not in templates:
        return Drop(f"no_template: {where}, and no [templates.{kind.name}] is configured")
    return TEMPLATE


def template_fallback(kind: NoticeKind, templates: Mapping[str, TemplateSpec], error: WeChatError) -> bool | Drop:
    """After WeChat refused a customer-service send (45015/45047): True when a template may carry it."""
    if kind.service and kind.name in templates:
        return True
    return Drop(f"window_closed: WeChat refused the customer-service message ({error.errcode}), no template allowed")


def classify(error: WeChatError) -> tuple[Verdict, str]:
    """What a WeChat error means for the notice that caused it."""
    if isinstance(error, NotFollowing):
        return "drop", "not_following: 43004 the follower has left"
    if isinstance(error, InvalidOpenid):
        return "drop", "invalid_openid: 40003 not a follower of this account"
    if isinstance(error, OutOfWindow | OutOfResponseCount):
        return "fallback", f"window: {error.errcode}"
    if isinstance(error, QuotaExceeded):
        return "close_day", "quota: 45009 WeChat's daily template quota is spent"
    if isinstance(error, DuplicateMessage):
        return "sent", "45065 already sent"
    if error.retryable or isinstance(error, TokenInvalid):
        return "retry", f"retry: {error}"[:200]
    return "fail", f"error: {error}"[:200]


def retry_at(now: datetime, attempts: int, base: timedelta, cap: timedelta) -> datetime:
    """Exponential backoff on the business clock: base, 2×base, 4×base… never beyond `cap`."""
    return now + min(cap, base * (2 ** max(0, attempts - 1)))


def reclaim_verdict(
    notice: Claimed, now: datetime, dedup_window: timedelta, custom_state: str | None = None
) -> Literal["resend", "sent"] | InDoubt | None:
    """A notice whose last send may have gone (taken over from a dead dispatcher, or a template send that got no
    answer): None when no send had started (send it as usual); "sent" when the send log says its
    customer-service send went; "resend" when a template send may have gone and WeChat still recognises its
    client_msg_id (a repeat is answered 45065); else it is in doubt."""
    if notice.previous_started_at is None or notice.previous_channel is None:
        return None
    if notice.previous_channel == CUSTOM:
        if custom_state == "sent":
            return "sent"
        if custom_state in ("unsent", "refused"):  # nothing went: send it as usual
            return None
        return InDoubt("in doubt: a customer-service send was under way when its worker stopped")
    if now - notice.previous_started_at < dedup_window:
        return "resend"
    return InDoubt("in doubt: a template send may have gone, and WeChat no longer remembers its client_msg_id")
