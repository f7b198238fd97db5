"""The new-follower gift (新人礼包): coupons issued on the first follow, usable for the claim window (24 h),
exactly once per openid forever, a reminder before the window closes, expiry, and the claim rate.

**Once forever.** `GiftGrant` is the ledger: one row per openid, unique on `openid_digest` (SHA-256 of the app
id and the openid). The row and its coupons are written in one transaction; a second subscribe — WeChat's
retries, concurrent events, a re-follow years later — fails the unique insert (inside a savepoint) and issues
nothing. The database decides, never a read-then-write.

**Unsubscribe** (WeChat: delete the follower's personal data). The ledger keeps only the digest, which cannot be
turned back into the openid, and the gift's own facts (when issued, claimed, expired): the `openid` column is
cleared (`forget_openid`, from store.members.privacy), so the row is no longer linked to the person, yet a re-follow of
the same openid hashes to the same digest and is refused a second gift. On re-follow the openid is written back
(`relink`) so an open gift can still be reminded and counted.

**Claimed** = one of the gift's coupons was used in a paid order (coupon status `used`); `refresh_claims` copies
that onto the ledger (before reminders, before expiry, on unsubscribe). The claim rate is claimed / decided,
where decided = claimed + expired unclaimed: gifts still inside their window are not counted either way.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, write_transaction
from store.core.hot_sql import InsertIfNew
from store.members.settings import MemberSettings
from store.outbox.kinds import Priority, format_time
from store.outbox.notices import enqueue_notice
from store.promotions.coupons import AVAILABLE, EXPIRED, USED, Coupon, CouponTemplate

log = logging.getLogger("wxshop.gifts")

SOURCE = "gift"
BATCH = 500
LATE_CLAIM = timedelta(days=2)  # a coupon locked before expiry may be paid (and so claimed) a little later


class GiftGrant(BaseModel):
    openid_digest = peewee.CharField(max_length=64, unique=True)
    openid = peewee.CharField(max_length=64, null=True, index=True)  # cleared on unsubscribe
    coupons = peewee.IntegerField(default=0)
    issued_at = ShanghaiDateTimeField()
    expires_at = ShanghaiDateTimeField(index=True)
    remind_at = ShanghaiDateTimeField(index=True)
    reminded_at = ShanghaiDateTimeField(null=True)
    claimed_at = ShanghaiDateTimeField(null=True)
    expired_at = ShanghaiDateTimeField(null=True)


@dataclass(frozen=True)
class Granted:
    """What the follow reply announces."""

    titles: tuple[str, ...]
    expires_at: datetime

    def announcement(self) -> str:
        return (
            f"🎁 新人礼包已放入您的账户：{'、'.join(self.titles)}，{self.expires_at:%m月%d日 %H:%M}前下单可用。"
            "回复“我的优惠券”查看。"
        )


_INSERT_GRANT = InsertIfNew(
    GiftGrant,
    [
        GiftGrant.openid_digest, GiftGrant.openid, GiftGrant.coupons, GiftGrant.issued_at, GiftGrant.expires_at,
        GiftGrant.remind_at,
    ],
    unique=GiftGrant.openid_digest,
)  # fmt: skip


def openid_digest(openid: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{openid}".encode()).hexdigest()


def grant_gift(openid: str, now: datetime, settings: MemberSettings) -> Granted | None:
    """Issue the gift if this openid never had one; None when it had (or no gift is configured)."""
    if not settings.gift_coupons:
        return None
    by_code = {
        t.code: t
        for t in CouponTemplate.select().where(
            CouponTemplate.code.in_(list(settings.gift_coupons)),
            CouponTemplate.active == True,  # noqa: E712
        )
    }
    templates = [by_code[c] for c in settings.gift_coupons if c in by_code]
    if len(templates) < len(settings.gift_coupons):
        log.error(
            "gift coupon templates missing", extra={"codes": [c for c in settings.gift_coupons if c not in by_code]}
        )
    if not templates:
        return None
    expires_at = now + settings.gift_window
    with write_transaction():
        digest = openid_digest(openid, settings.ledger_salt)
        remind_at = expires_at - settings.gift_reminder_before
        if _INSERT_GRANT.execute(digest, openid, len(templates), now, expires_at, remind_at) is None:
            return None  # this openid had its gift (a retry, a concurrent subscribe, a re-follow)
        Coupon.insert_many(
            [
                {
                    "code": f"C{secrets.token_hex(6).upper()}",
                    "template": t.id,
                    "openid": openid,
                    "status": AVAILABLE,
                    "source": SOURCE,
                    "issued_at": now,
                    "expires_at": expires_at,
                }
                for t in templates
            ]
        ).execute()
    return Granted(tuple(t.describe() for t in templates), expires_at)


def relink(openid: str, settings: MemberSettings) -> int:
    """A re-follow: link the (anonymised) ledger row to the openid again; never issues anything."""
    digest = openid_digest(openid, settings.ledger_salt)
    with write_transaction():
        return (
            GiftGrant.update(openid=openid)
            .where(GiftGrant.openid_digest == digest, GiftGrant.openid.is_null())
            .execute()
        )


def forget_openid(openid: str, now: datetime) -> int:
    """Unsubscribe: record whether the gift was claimed, then unlink the ledger row from the person. Call inside
    the unsubscribe's transaction."""
    _refresh(GiftGrant.openid == openid, now)
    return GiftGrant.update(openid=None).where(GiftGrant.openid == openid).execute()


def _used_gift(*columns: peewee.Node) -> peewee.ModelSelect:
    """The gift coupons of the ledger row's openid that were used in a paid order."""
    return Coupon.select(*columns).where(
        Coupon.openid == GiftGrant.openid, Coupon.source == SOURCE, Coupon.status == USED
    )


def _refresh(scope: peewee.Expression, now: datetime) -> int:
    return (
        GiftGrant.update(claimed_at=_used_gift(peewee.fn.MIN(Coupon.used_at)), expired_at=None)
        .where(
            scope,
            GiftGrant.claimed_at.is_null(),
            GiftGrant.openid.is_null(False),
            peewee.fn.EXISTS(_used_gift(peewee.SQL("1"))),
        )
        .execute()
    )


def refresh_claims(now: datetime) -> int:
    """Mark gifts whose coupons were used in a paid order as claimed (recent gifts only: older ones are decided)."""
    with write_transaction():
        return _refresh(GiftGrant.expires_at > now - LATE_CLAIM, now)


def send_reminders(now: datetime, batch: int = BATCH) -> int:
    """Queue the reminder for unclaimed gifts whose reminder time has come and whose window is still open.
    A member-care notice with no template: the outbox sends it only inside a customer-service window and drops
    it otherwise. Batched select → queue → mark; the dedup key makes a crashed batch harmless to redo."""
    sent = 0
    while True:
        with write_transaction():
            due = list(
                GiftGrant.select(GiftGrant.id, GiftGrant.openid, GiftGrant.expires_at)
                .where(
                    GiftGrant.remind_at <= now,
                    GiftGrant.expires_at > now,
                    GiftGrant.reminded_at.is_null(),
                    GiftGrant.claimed_at.is_null(),
                    GiftGrant.openid.is_null(False),
                )
                .order_by(GiftGrant.id)
                .limit(batch)
            )
            for grant in due:
                enqueue_notice(
                    grant.openid,
                    "gift_reminder",
                    {"expires_at": format_time(grant.expires_at)},
                    Priority.MEMBER_CARE,
                    now,
                    dedup_key=f"gift_reminder:{grant.id}",
                )
            if due:
                GiftGrant.update(reminded_at=now).where(GiftGrant.id.in_([g.id for g in due])).execute()
        sent += len(due)
        if len(due) < batch:
            return sent


def expire_gifts(now: datetime) -> int:
    """Gifts past their window and unclaimed are expired, and so are their coupons still available."""
    with write_transaction():
        expired = (
            GiftGrant.update(expired_at=now)
            .where(GiftGrant.expires_at <= now, GiftGrant.claimed_at.is_null(), GiftGrant.expired_at.is_null())
            .execute()
        )
        Coupon.update(status=EXPIRED).where(
            Coupon.source == SOURCE, Coupon.status == AVAILABLE, Coupon.expires_at <= now
        ).execute()
    return expired


@dataclass(frozen=True)
class GiftStats:
    issued: int
    claimed: int
    expired: int
    open: int

    @property
    def claim_rate(self) -> float | None:
        """claimed / (claimed + expired): None until some gift is decided."""
        decided = self.claimed + self.expired
        return round(self.claimed / decided, 4) if decided else None

    def as_dict(self) -> dict[str, int | float | None]:
        return {
            "issued": self.issued,
            "claimed": self.claimed,
            "expired": self.expired,
            "open": self.open,
            "claim_rate": self.claim_rate,
        }


def gift_stats(now: datetime, since: datetime | None = None) -> GiftStats:
    """Figures over the gifts issued since `since` (all when None)."""
    scope = GiftGrant.issued_at >= since if since is not None else peewee.SQL("1 = 1")

    def count(*where: peewee.Expression) -> int:
        return GiftGrant.select().where(scope, *where).count()

    claimed = count(GiftGrant.claimed_at.is_null(False))
    return GiftStats(
        issued=count(),
        claimed=claimed,
        expired=count(GiftGrant.claimed_at.is_null(), GiftGrant.expires_at <= now),
        open=count(GiftGrant.claimed_at.is_null(), GiftGrant.expires_at > now),
    )
