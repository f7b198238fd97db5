"""The daily template quota (Asia/Shanghai day of the injected clock): never exceeded, shared by priority —
order notices first, lower priorities wait for tomorrow — and rebuilt from the database when Redis forgets it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.process.config import Config
from scheduler.outbox_limits import shanghai_day
from store.core.clock import SHANGHAI, ManualClock
from store.outbox.kinds import next_shanghai_midnight
from store.outbox.notices import PENDING, SENT
from tests.outbox_support import outbox_config, outbox_rig, queue


@pytest.fixture
def config(migrated: Config) -> Config:
    return outbox_config(
        migrated, template_daily_quota=10, template_quota_share_service=0.8, template_quota_share_member_care=0.5
    )


def statuses(rig, ids: list[int]) -> list[str]:
    return [rig.notice(i).status for i in ids]


async def test_quota_short_lower_priorities_wait_for_tomorrow(config: Config) -> None:
    clock = ManualClock(datetime(2026, 11, 24, 23, 0, tzinfo=SHANGHAI))
    async with outbox_rig(config, clock=clock) as rig:
        followers = [f"o_{i}" for i in range(20)]
        for openid in followers:
            rig.world.follow(openid)
        clock.advance(minutes=2)
        now = clock.now()
        birthdays = [queue(followers[i], "birthday", now) for i in range(6)]  # member care: 5 of 10
        tiers = [queue(followers[6 + i], "tier_change", now) for i in range(4)]  # service: up to 8 of 10
        paid = [queue(followers[10 + i], "paid", now) for i in range(4)]  # transactional: all 10
        await rig.drain()
        assert statuses(rig, paid) == [SENT] * 4
        assert statuses(rig, tiers) == [SENT] * 4
        assert statuses(rig, birthdays) == [PENDING] * 6, "member care may not use the last fifth"
        tomorrow = next_shanghai_midnight(now)
        assert {rig.notice(i).due_at for i in birthdays} == {tomorrow}
        assert rig.notice(birthdays[0]).reason == "quota: today's share for this priority is spent"

        late_paid = [queue(followers[14 + i], "paid", clock.now()) for i in range(3)]
        await rig.drain()
        assert statuses(rig, late_paid) == [SENT, SENT, PENDING], "the reserve serves order notices up to 10"
        assert rig.state.templates.sent_today(clock.now()) == 10
        assert await rig.dispatcher.quota.used(clock.now()) == 10

        clock.set(tomorrow - timedelta(seconds=1))  # 23:59:59: still today
        await rig.drain()
        assert rig.state.templates.sent_today(clock.now()) == 10

        clock.set(tomorrow + timedelta(minutes=1))  # a new Asia/Shanghai day, a new quota
        await rig.drain()
        assert rig.notice(late_paid[2]).status == SENT
        # member care may use the day's quota up to half of it, order notices included: 1 paid + 4 birthdays
        assert statuses(rig, birthdays) == [SENT] * 4 + [PENDING] * 2
        assert rig.state.templates.sent_today(clock.now()) == 5


async def test_a_lost_quota_count_is_rebuilt_from_the_database(config: Config) -> None:
    async with outbox_rig(config) as rig:
        for i in range(12):
            rig.world.follow(f"o_{i}")
        rig.clock.advance(minutes=2)
        first = [queue(f"o_{i}", "paid", rig.clock.now()) for i in range(7)]
        await rig.drain()
        assert statuses(rig, first) == [SENT] * 7
        day_key = rig.resources.key("outbox", "tpl", shanghai_day(rig.clock.now()))
        assert rig.resources.redis.delete(day_key) == 1  # Redis restarted without its data

        more = [queue(f"o_{7 + i}", "paid", rig.clock.now()) for i in range(5)]
        await rig.drain()
        assert statuses(rig, more) == [SENT, SENT, SENT, PENDING, PENDING]
        assert rig.state.templates.sent_today(rig.clock.now()) == 10, "never beyond the quota"
