"""退订 and 恢复订阅: a follower who replies 退订 receives no campaign until they reply 恢复订阅. Service notices
(orders, shipping, after-sales) are not marketing and still go."""

from __future__ import annotations

from datetime import datetime

from store.core.db import write_transaction
from store.outbox.notices import DROPPED, PENDING, Notice
from store.profiles.models import MarketingOptOut

CAMPAIGN_NOTICE_KINDS = ("campaign", "campaign_template", "campaign_cs", "campaign_coupon")
OPTED_OUT_REASON = "opted_out: the follower replied 退订"


def opt_out(openid: str, now: datetime) -> tuple[bool, int]:
    """Record the 退订 and drop the follower's campaign notices not sent yet, in one transaction; returns whether
    it is new and how many notices were dropped."""
    with write_transaction():
        new = MarketingOptOut.insert(openid=openid, at=now).on_conflict_ignore().as_rowcount().execute()
        dropped = (
            Notice.update(status=DROPPED, reason=OPTED_OUT_REASON, finished_at=now)
            .where(Notice.openid == openid, Notice.kind.in_(CAMPAIGN_NOTICE_KINDS), Notice.status == PENDING)
            .execute()
        )
    return bool(new), int(dropped)


def opt_in(openid: str) -> bool:
    """恢复订阅: campaigns started from now on reach the follower again; returns whether they had opted out."""
    with write_transaction():
        return bool(MarketingOptOut.delete().where(MarketingOptOut.openid == openid).execute())


def opted_out(openid: str) -> bool:
    return MarketingOptOut.select().where(MarketingOptOut.openid == openid).exists()
