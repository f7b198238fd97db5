"""WeChat's answers handled as what they mean, driven through the emulator (`inject_error` and real state):
43004/40003 drop, 45015/45047 fall back to a template (or drop), 45009 closes the day, 45065 means already
sent, -1 and network errors come back later with backoff and a bounded number of attempts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.process.config import Config
from store.outbox.kinds import next_shanghai_midnight
from store.outbox.notices import CUSTOM, DROPPED, FAILED, PENDING, SENT, TEMPLATE
from tests.outbox_support import outbox_config, outbox_rig, queue

CUSTOM_SEND = "/cgi-bin/message/custom/send"
TEMPLATE_SEND = "/cgi-bin/message/template/send"


@pytest.fixture
def config(migrated: Config) -> Config:
    return outbox_config(migrated)


async def test_not_following_and_invalid_openid_are_dropped(config: Config) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_left")
        rig.world.unfollow("o_left")
        left = queue("o_left", "paid", rig.clock.now())
        stranger = queue("o_never_followed", "paid", rig.clock.now())
        await rig.drain()
        assert rig.notice(left).status == DROPPED
        assert rig.notice(left).reason.startswith("not_following: 43004")
        assert rig.notice(stranger).reason.startswith("invalid_openid: 40003")
        assert rig.state.calls[TEMPLATE_SEND] == 2, "one call each, never retried"


@pytest.mark.parametrize("errcode", [45015, 45047])
async def test_a_refused_customer_service_send_falls_back_to_a_template(config: Config, errcode: int) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_a")
        rig.clock.advance(minutes=2)
        rig.interact("o_a", "message")
        rig.state.inject_error(CUSTOM_SEND, errcode, times=2)
        paid = queue("o_a", "paid", rig.clock.now())
        gift = queue("o_a", "gift_reminder", rig.clock.now())
        await rig.drain()
        row = rig.notice(paid)
        assert (row.status, row.channel) == (SENT, TEMPLATE)
        assert rig.notice(gift).status == DROPPED
        refused = f"window_closed: WeChat refused the customer-service message ({errcode})"
        assert rig.notice(gift).reason.startswith(refused)
        assert [d.kind for d in rig.world.delivered("o_a")] == ["template"]
        # our record of the window now says what WeChat said: nothing more until the follower's next interaction
        assert rig.windows.verdict("o_a", rig.clock.now()) == "used_up"
        rig.interact("o_a", "message")
        assert rig.windows.verdict("o_a", rig.clock.now()) == "message"


async def test_45009_closes_template_sends_for_the_day(config: Config) -> None:
    async with outbox_rig(config) as rig:
        for openid in ("o_1", "o_2"):
            rig.world.follow(openid)
        rig.clock.advance(minutes=2)
        rig.state.inject_error(TEMPLATE_SEND, 45009)
        first = queue("o_1", "paid", rig.clock.now())
        await rig.drain()
        tomorrow = next_shanghai_midnight(rig.clock.now())
        row = rig.notice(first)
        assert (row.status, row.due_at, row.attempts) == (PENDING, tomorrow, 0)
        assert row.reason.startswith("quota: 45009")

        second = queue("o_2", "paid", rig.clock.now())
        await rig.drain()
        assert rig.notice(second).status == PENDING
        assert rig.notice(second).reason == "quota: closed for today after 45009"
        assert rig.state.calls[TEMPLATE_SEND] == 1, "no call after 45009 until tomorrow"

        rig.clock.set(tomorrow + timedelta(seconds=1))
        await rig.drain()
        assert [rig.notice(i).status for i in (first, second)] == [SENT, SENT]


async def test_45065_means_already_sent(config: Config) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_a")
        rig.clock.advance(minutes=2)
        rig.state.inject_error(TEMPLATE_SEND, 45065)
        notice = queue("o_a", "paid", rig.clock.now())
        stats = await rig.drain()
        assert rig.notice(notice).status == SENT
        assert stats.duplicates == 1


async def test_system_errors_are_retried_with_backoff_then_given_up(config: Config) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_a")
        rig.clock.advance(minutes=2)
        rig.state.inject_error(TEMPLATE_SEND, -1)
        notice = queue("o_a", "paid", rig.clock.now())
        await rig.drain()
        row = rig.notice(notice)
        assert (row.status, row.attempts, row.due_at) == (PENDING, 1, rig.clock.now() + timedelta(seconds=30))
        await rig.drain()
        assert rig.state.calls[TEMPLATE_SEND] == 1, "not due again yet: no retry storm"
        rig.clock.advance(seconds=30)
        await rig.drain()
        row = rig.notice(notice)
        assert (row.status, row.attempts) == (SENT, 2)

        rig.state.inject_error(TEMPLATE_SEND, -1, times=10)
        doomed = queue("o_a", "paid", rig.clock.now())
        waits = []
        for _ in range(10):
            await rig.drain()
            row = rig.notice(doomed)
            if row.status != PENDING:
                break
            waits.append(row.due_at - rig.clock.now())
            rig.clock.set(row.due_at)
        assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
        assert (row.status, row.attempts) == (FAILED, 5)
        assert row.reason.startswith("gave_up: after 5 attempts")


async def test_a_refused_token_is_replaced_once(config: Config) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_a")
        rig.clock.advance(minutes=2)
        rig.interact("o_a", "payment")
        queue("o_a", "paid", rig.clock.now())
        await rig.drain()
        assert rig.state.token_fetches == 1
        rig.state.inject_error(CUSTOM_SEND, 40001)
        again = queue("o_a", "shipped", rig.clock.now())
        await rig.drain()
        assert rig.notice(again).channel == CUSTOM and rig.notice(again).status == SENT
        assert rig.state.token_fetches == 2
