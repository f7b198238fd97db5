"""Birthdays: the daily sweep that sends a neutral birthday notice and puts the birthday coupon in the member's
account, once per member per year, and the greeting shown in chat on the member's next message.

The sweep is set-based (a handful of INSERT … SELECT / UPDATE statements over today's birthdays, found through
the index on `follower.birthday`), all in one transaction: `BirthdayGift` is unique on (openid, year), coupon
codes are derived from the gift row (`BD{year}-{id}`, unique) and the notice's dedup key is
`birthday:{year}:{openid}`, so a re-run — the next hourly catch-up, or after a crash — changes nothing.
A 29 February birthday is celebrated on 28 February in other years.

Chat delivery: the sweep returns the openids it greeted; the job sets a flag for each in Redis
(`greeting_flag_key`), which the dialog store reads in the same round trip as the conversation state. On the
member's next message the engine asks `take_greeting` (a conditional UPDATE of `greeted_at`: shown once) and
puts the greeting above its answer. Losing Redis loses only the flag: the coupon is in the account and "我的优惠券"
shows it.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from store.core.clock import SHANGHAI
from store.core.db import BaseModel, ShanghaiDateTimeField, datetime_value, write_transaction
from store.core.keys import Keys
from store.members.followers import Follower
from store.outbox.kinds import Priority
from store.outbox.notices import enqueue_selected, lint_notice_fields
from store.promotions.coupons import AVAILABLE, Coupon, CouponTemplate

SOURCE = "birthday"
NOTICE_MEMBER = "尊敬的会员"


class BirthdayGift(BaseModel):
    openid = peewee.CharField(max_length=64)
    year = peewee.IntegerField()
    day = peewee.CharField(max_length=5)  # "MM-DD" as it was on the day
    coupon_code = peewee.CharField(max_length=32, null=True)
    created_at = ShanghaiDateTimeField()
    notified_at = ShanghaiDateTimeField(null=True)
    greeted_at = ShanghaiDateTimeField(null=True)

    class Meta:
        indexes = ((("openid", "year"), True),)


def greeting_flag_key(prefix: str, openid: str) -> str:
    """The Redis flag "a greeting is waiting" (read by dialogs.state together with the conversation)."""
    return Keys(prefix).greeting(openid)


def birthday_days(local: datetime) -> list[str]:
    """The stored "MM-DD" values celebrated on this Shanghai date (02-29 on 28 Feb of a common year)."""
    days = [f"{local.month:02d}-{local.day:02d}"]
    if (local.month, local.day) == (2, 28) and not calendar.isleap(local.year):
        days.append("02-29")
    return days


@dataclass(frozen=True)
class BirthdayRun:
    new: int  # gifts recorded by this run
    coupons: int  # coupons issued by this run
    notices: int  # notices queued by this run
    greet: list[str]  # openids with a greeting waiting (today's, not yet shown): flag them in Redis
    flag_ttl_s: int


def sweep_birthdays(now: datetime, coupon_code: str) -> BirthdayRun:
    """Today's birthdays (Asia/Shanghai): record the gift, issue the coupon, queue the notice. Idempotent."""
    local = now.astimezone(SHANGHAI)
    year, days = local.year, birthday_days(local)
    template = (
        CouponTemplate.get_or_none(CouponTemplate.code == coupon_code, CouponTemplate.active == True)  # noqa: E712
        if coupon_code
        else None
    )
    valid = timedelta(days=template.valid_days if template else 30)
    fields = lint_notice_fields("birthday", {"member": NOTICE_MEMBER, "date": f"{local:%Y-%m-%d}"})
    payload = json.dumps(fields, ensure_ascii=False, sort_keys=True)
    with write_transaction():
        today = (BirthdayGift.year == year) & BirthdayGift.day.in_(days)
        new = (
            BirthdayGift.insert_from(
                Follower.select(Follower.openid, peewee.Value(year), Follower.birthday, datetime_value(now)).where(
                    Follower.birthday.in_(days),
                    Follower.subscribed == True,  # noqa: E712
                ),
                [BirthdayGift.openid, BirthdayGift.year, BirthdayGift.day, BirthdayGift.created_at],
            )
            .on_conflict_ignore()
            .as_rowcount()
            .execute()
        )
        coupons = 0
        if template is not None:
            code = peewee.Value(f"BD{year}-").concat(peewee.Cast(BirthdayGift.id, "TEXT"))
            pending = BirthdayGift.select(
                code,
                peewee.Value(template.id),
                BirthdayGift.openid,
                peewee.Value(AVAILABLE),
                peewee.Value(SOURCE),
                datetime_value(now),
                datetime_value(now + valid),
            ).where(today, BirthdayGift.coupon_code.is_null())
            coupons = (
                Coupon.insert_from(
                    pending,
                    [
                        Coupon.code,
                        Coupon.template,
                        Coupon.openid,
                        Coupon.status,
                        Coupon.source,
                        Coupon.issued_at,
                        Coupon.expires_at,
                    ],
                )
                .on_conflict_ignore()
                .as_rowcount()
                .execute()
            )
            BirthdayGift.update(coupon_code=code).where(today, BirthdayGift.coupon_code.is_null()).execute()
        dedup = peewee.Value(f"birthday:{year}:").concat(BirthdayGift.openid)
        source = BirthdayGift.select().where(today, BirthdayGift.notified_at.is_null())
        notices = enqueue_selected(
            source, BirthdayGift.openid, "birthday", peewee.Value(payload), dedup, Priority.MEMBER_CARE, now
        )
        BirthdayGift.update(notified_at=now).where(today, BirthdayGift.notified_at.is_null()).execute()
        greet = [
            openid
            for (openid,) in BirthdayGift.select(BirthdayGift.openid)
            .where(today, BirthdayGift.greeted_at.is_null(), BirthdayGift.coupon_code.is_null(False))
            .tuples()
        ]
    return BirthdayRun(new, coupons, notices, greet, int(valid.total_seconds()))


@dataclass(frozen=True)
class Greeting:
    title: str
    expires_at: datetime

    def text(self) -> str:
        return (
            f"🎂 生日快乐！您的生日礼「{self.title}」已放进账户，{self.expires_at:%m月%d日}前下单可用，"
            "回复“我的优惠券”查看。"
        )


def take_greeting(openid: str, now: datetime) -> Greeting | None:
    """The birthday greeting waiting for this member, marked shown (once, however many messages race)."""
    row = (
        BirthdayGift.select(BirthdayGift, Coupon, CouponTemplate)
        .join(Coupon, on=(Coupon.code == BirthdayGift.coupon_code))
        .join(CouponTemplate)
        .where(BirthdayGift.openid == openid, BirthdayGift.greeted_at.is_null())
        .order_by(BirthdayGift.year.desc())
        .first()
    )
    if row is None:
        return None
    with write_transaction():
        taken = (
            BirthdayGift.update(greeted_at=now)
            .where(BirthdayGift.id == row.id, BirthdayGift.greeted_at.is_null())
            .execute()
        )
    coupon = row.coupon
    if not taken or coupon.status != AVAILABLE or coupon.expires_at <= now:
        return None
    return Greeting(coupon.template.describe(), coupon.expires_at)
