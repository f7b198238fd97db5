"""Answers for built-in intents that have no flow yet (none left: orders, tracking, after-sales, member centre,
coupons and points have theirs). New intents can start here; the routing to them is already in place."""

from __future__ import annotations

from collections.abc import Callable

from dialogs.flows import Turn
from dialogs.intents import Intent
from dialogs.replies import ReplyLike

PLACEHOLDERS: dict[str, Callable[[Turn, Intent], ReplyLike]] = {}
