"""The members' cron jobs: the new-follower gift (claims, reminders, expiry), birthdays, tiers, points expiry.

Each is an idempotent sweep (select due rows → act → mark, in one transaction per step; see the store modules),
takes `now` from `ctx["deps"].clock` and its rules from `ctx["deps"].members` (built from config by the worker),
and is safe to re-run after a crash: what is done is marked, unique keys refuse repeats.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from arq.cron import CronJob, cron

from store.members.birthdays import BirthdayRun, greeting_flag_key, sweep_birthdays
from store.members.points_expiry import expire_points, remind_points
from store.members.settings import MemberSettings
from store.members.templates import seed_templates
from store.members.tiers import sweep_tiers
from store.promotions import gifts

log = logging.getLogger("wxshop.members")


@dataclass(frozen=True)
class MemberJobDeps:
    settings: MemberSettings = field(default_factory=MemberSettings)
    redis_prefix: str = "wxshop:"  # for the birthday greeting flags (dialogs read them)


def _deps(ctx: dict[str, Any]) -> tuple[Any, MemberJobDeps]:
    deps = ctx["deps"]
    return deps.clock, getattr(deps, "members", None) or MemberJobDeps()


async def sweep_gifts(ctx: dict[str, Any]) -> dict[str, int]:
    """Every few minutes: note claims, send due reminders (only claims not yet made), expire lapsed gifts."""
    clock, _ = _deps(ctx)

    def run() -> dict[str, int]:
        now = clock.now()
        claimed = gifts.refresh_claims(now)
        reminded = gifts.send_reminders(now)
        expired = gifts.expire_gifts(now)
        return {"claimed": claimed, "reminded": reminded, "expired": expired}

    return await asyncio.to_thread(run)


async def sweep_member_birthdays(ctx: dict[str, Any]) -> dict[str, int]:
    """Daily at `birthday_sweep_at` (and hourly after it, as a catch-up): today's birthday notices and gifts."""
    clock, members = _deps(ctx)
    settings = members.settings

    def run() -> BirthdayRun:
        now = clock.now()
        if settings.birthday_coupon:
            seed_templates([settings.birthday_coupon], now)
        return sweep_birthdays(now, settings.birthday_coupon)

    result = await asyncio.to_thread(run)
    redis = ctx.get("redis")
    if redis is not None and result.greet:
        async with redis.pipeline(transaction=False) as pipe:
            for openid in result.greet:
                pipe.set(greeting_flag_key(members.redis_prefix, openid), "1", ex=result.flag_ttl_s)
            await pipe.execute()
    log.info("birthday sweep", extra={"new": result.new, "notices": result.notices, "greet": len(result.greet)})
    return {"new": result.new, "coupons": result.coupons, "notices": result.notices, "flagged": len(result.greet)}


async def sweep_member_tiers(ctx: dict[str, Any]) -> int:
    """Nightly: bring stored tiers in line with the rule (黑金 lapses with the year) and notify each change."""
    clock, members = _deps(ctx)
    changed = await asyncio.to_thread(lambda: sweep_tiers(clock.now(), members.settings.rules))
    return len(changed)


async def sweep_points(ctx: dict[str, Any]) -> dict[str, int]:
    """Nightly: expire points past validity, then queue reminders for those expiring within the reminder lead."""
    clock, members = _deps(ctx)

    def run() -> dict[str, int]:
        now = clock.now()
        expired = expire_points(now)
        reminded = remind_points(now, members.settings.points_reminder_days)
        return {"members_expired": expired.members, "points_expired": expired.points, "reminders": reminded}

    return await asyncio.to_thread(run)


MEMBER_FUNCTIONS = [sweep_gifts, sweep_member_birthdays, sweep_member_tiers, sweep_points]
LAST_CATCH_UP_HOUR = 21  # no birthday notices late at night


def birthday_hours(birthday_at: str) -> tuple[set[int], int]:
    """`"09:00"` → hours {9..21} at minute 0: the sweep at the configured time, then hourly catch-ups (a worker
    that was down at 09:00, a birthday set during the day)."""
    hour, minute = (int(part) for part in birthday_at.split(":"))
    hour, minute = min(max(hour, 0), 23), min(max(minute, 0), 59)
    return set(range(hour, max(hour, LAST_CATCH_UP_HOUR) + 1)), minute


def member_cron(birthday_at: str = "09:00") -> list[CronJob]:
    """The members' part of the cron table (hours are Asia/Shanghai: the worker runs cron in that zone)."""
    hours, minute = birthday_hours(birthday_at)
    return [
        cron(sweep_gifts, name="member-gifts", minute=set(range(2, 60, 5)), second=40, unique=True, keep_result=60),
        cron(sweep_member_birthdays, name="member-birthdays", hour=hours, minute=minute, second=0, unique=True,
             keep_result=3600),
        cron(sweep_member_tiers, name="member-tiers", hour=3, minute=10, second=0, unique=True, keep_result=3600),
        cron(sweep_points, name="member-points", hour=3, minute=40, second=0, unique=True, keep_result=3600),
    ]  # fmt: skip
