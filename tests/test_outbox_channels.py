"""Channel choice against the MP emulator on a ManualClock: a customer-service message inside each window
(message 5 in 48 h, click/follow/scan 3 in 1 min, payment unlimited for 48 h), a template message outside them
for service notices, and a drop with its reason for the rest."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.process.config import Config
from store.outbox.notices import CUSTOM, DROPPED, SENT, TEMPLATE
from tests.outbox_support import outbox_config, outbox_rig, queue


@pytest.fixture
def config(migrated: Config) -> Config:
    return outbox_config(migrated)


def channels(rig, ids: list[int]) -> list[str | None]:
    return [rig.notice(i).channel for i in ids]


async def test_message_window_allows_five_in_48_hours_then_templates(config: Config) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_a")
        rig.clock.advance(minutes=5)  # the follow's one-minute window is over
        rig.interact("o_a", "message")
        ids = [queue("o_a", "shipped", rig.clock.now()) for _ in range(6)]
        await rig.drain()
        assert channels(rig, ids) == [CUSTOM] * 5 + [TEMPLATE]
        sent = rig.world.delivered("o_a")  # sent concurrently: in no particular order
        customs = [d for d in sent if d.kind == "custom"]
        [template] = [d for d in sent if d.kind == "template"]
        assert len(customs) == 5
        assert customs[0].payload["text"]["content"] == "您的订单WX20261124001已发货：顺丰速运 SF1234567890。"
        assert template.payload["template_id"] == "TPL_SHIPPED"
        assert template.payload["url"] == "https://shop.example.com/orders"
        assert template.payload["client_msg_id"] == f"wxshop-{ids[5]}"

        rig.clock.advance(hours=47, minutes=50)  # still inside the 48 h, but the five are used
        late = queue("o_a", "tier_change", rig.clock.now())
        await rig.drain()
        assert rig.notice(late).channel == TEMPLATE

        rig.interact("o_a", "message")  # a new message opens a fresh window of five
        again = queue("o_a", "tier_change", rig.clock.now())
        await rig.drain()
        assert rig.notice(again).channel == CUSTOM


async def test_click_window_allows_three_within_one_minute(config: Config) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_b")  # a follow opens the shared click bucket: 3 in 1 minute
        rig.windows.record_interaction("o_b", "subscribe", rig.clock.now())
        rig.clock.advance(seconds=20)
        rig.interact("o_b", "click")  # same bucket: a fresh 3, not 6
        ids = [queue("o_b", "paid", rig.clock.now()) for _ in range(4)]
        await rig.drain()
        assert channels(rig, ids) == [CUSTOM] * 3 + [TEMPLATE]

        rig.interact("o_b", "scan")
        rig.clock.advance(seconds=61)  # the minute is over
        later = queue("o_b", "paid", rig.clock.now())
        await rig.drain()
        assert rig.notice(later).channel == TEMPLATE
        assert sorted(d.kind for d in rig.world.delivered("o_b")) == ["custom"] * 3 + ["template"] * 2


async def test_payment_window_is_unlimited_for_48_hours(config: Config) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_c")
        rig.clock.advance(minutes=2)
        rig.interact("o_c", "payment")
        ids = [queue("o_c", "tracking", rig.clock.now()) for _ in range(12)]
        await rig.drain()
        assert channels(rig, ids) == [CUSTOM] * 12

        rig.clock.advance(hours=47, minutes=59)
        inside = queue("o_c", "tracking", rig.clock.now())
        await rig.drain()
        assert rig.notice(inside).channel == CUSTOM

        rig.clock.advance(minutes=2)  # 48 h after the payment
        outside = queue("o_c", "tracking", rig.clock.now())
        await rig.drain()
        outside_row = rig.notice(outside)
        assert outside_row.status == DROPPED  # tracking has no template configured here
        assert outside_row.reason.startswith("no_template: no customer-service window")


async def test_drop_reasons_outside_every_window(config: Config) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_d")
        rig.clock.advance(minutes=2)
        gift = queue("o_d", "gift_reminder", rig.clock.now())  # member care, not a service notice
        tracking = queue("o_d", "tracking", rig.clock.now())  # a service notice without a template
        paid = queue("o_d", "paid", rig.clock.now())
        await rig.drain()
        assert rig.notice(gift).status == DROPPED
        assert rig.notice(gift).reason.startswith("not_service_notice: no customer-service window")
        assert rig.notice(tracking).reason.startswith("no_template:")
        row = rig.notice(paid)
        assert (row.status, row.channel, row.attempts) == (SENT, TEMPLATE, 1)
        assert row.msgid and row.sent_at == rig.clock.now()
        [shown] = rig.world.delivered("o_d")
        assert shown.payload["data"] == {
            "character_string2": {"value": "WX20261124001"},
            "amount1": {"value": "¥199.00"},
            "time3": {"value": "2026-11-24 10:00"},
            "thing4": {"value": "红色连衣裙 M码"},
        }


async def test_a_window_used_outside_the_outbox_is_respected(config: Config) -> None:
    """A late reply sent as a customer-service message takes from the same window (`CsWindows.consume`)."""
    async with outbox_rig(config) as rig:
        rig.world.follow("o_e")
        rig.clock.advance(minutes=2)
        rig.interact("o_e", "message")
        for _ in range(4):
            assert rig.windows.consume("o_e", rig.clock.now()) == "message"
        ids = [queue("o_e", "paid", rig.clock.now()) for _ in range(2)]
        await rig.drain()
        assert channels(rig, ids) == [CUSTOM, TEMPLATE]
        assert rig.windows.verdict("o_e", rig.clock.now()) == "used_up"


async def test_a_payment_recorded_just_after_the_batch_read_the_clock_still_opens_its_window(config: Config) -> None:
    """A pay notice WeChat sent again reaches another serve, which records the window with the retry's time, a
    moment after the dispatcher took its `now` for the batch holding the first notice's paid notice."""
    async with outbox_rig(config) as rig:
        rig.world.follow("o_e")
        rig.clock.advance(minutes=2)
        rig.interact("o_e", "message")
        used = [queue("o_e", "tracking", rig.clock.now()) for _ in range(5)]
        await rig.drain()
        assert channels(rig, used) == [CUSTOM] * 5, "the message window's five are used"
        paid_at = rig.clock.now()
        rig.world.record_interaction("o_e", "payment", paid_at)
        rig.windows.record_interaction("o_e", "payment", paid_at + timedelta(milliseconds=300))
        notice = queue("o_e", "tracking", paid_at)
        await rig.drain()
        assert rig.notice(notice).channel == CUSTOM, rig.notice(notice).reason
