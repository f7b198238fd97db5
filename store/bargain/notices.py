"""What the starter of a bargain is told, through the outbox, in the transaction of the cut that causes it.

Friends' cuts are collapsed: while a `bargain_cut` notice for the bargain is still waiting to go out, a new cut
only refreshes its figures, and a new notice is due no sooner than `CUT_NOTICE_GAP` after the previous one, so a
burst of friends makes one message, not a flood that spends the follower's customer-service window. The last cut
drops the waiting progress notice and queues one `bargain_complete`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from store.bargain.models import Bargain
from store.outbox.kinds import Priority, format_fen, format_time
from store.outbox.notices import DROPPED, PENDING, Notice, enqueue_notice, lint_notice_fields
from store.outbox.template_lint import thing_value

CUT_NOTICE_GAP = timedelta(minutes=10)


def _cut_prefix(bargain: Bargain) -> str:
    return f"bargain_cut:{bargain.bargain_no}:"


def notify_cut(bargain: Bargain, goods: str, now: datetime) -> None:
    fields = {"goods": thing_value(goods, "商品"), "price": format_fen(bargain.price_fen), "helped": bargain.cuts,
              "left": bargain.helpers - bargain.cuts, "cut_at": format_time(now)}  # fmt: skip
    waiting = (
        Notice.select(Notice.id)
        .where(Notice.dedup_key.startswith(_cut_prefix(bargain)), Notice.status == PENDING)
        .order_by(Notice.id.desc())
        .first()
    )
    values = json.dumps(lint_notice_fields("bargain_cut", fields), ensure_ascii=False, sort_keys=True)
    if waiting is not None:
        Notice.update(fields=values).where(Notice.id == waiting.id, Notice.status == PENDING).execute()
        return
    previous = (
        Notice.select(Notice.created_at)
        .where(Notice.dedup_key.startswith(_cut_prefix(bargain)))
        .order_by(Notice.id.desc())
        .first()
    )
    notice_id = enqueue_notice(bargain.starter_openid, "bargain_cut", fields, Priority.SERVICE, now,
                               dedup_key=f"{_cut_prefix(bargain)}{bargain.cuts}")  # fmt: skip
    if previous is not None and previous.created_at + CUT_NOTICE_GAP > now:
        Notice.update(due_at=previous.created_at + CUT_NOTICE_GAP).where(Notice.id == notice_id).execute()


def notify_complete(bargain: Bargain, goods: str, now: datetime) -> None:
    Notice.update(status=DROPPED, reason="bargain complete", finished_at=now).where(
        Notice.dedup_key.startswith(_cut_prefix(bargain)), Notice.status == PENDING
    ).execute()
    enqueue_notice(
        bargain.starter_openid, "bargain_complete",
        {"goods": thing_value(goods, "商品"), "price": format_fen(bargain.price_fen), "helped": bargain.cuts,
         "completed_at": format_time(now)},
        Priority.TRANSACTIONAL, now, dedup_key=f"bargain_complete:{bargain.bargain_no}",
    )  # fmt: skip
