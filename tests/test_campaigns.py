"""Campaigns through the real outbox dispatcher against the MP emulator, on a ManualClock: the channel each
member's message takes (customer-service inside a window, template outside, or one of them only), a coupon issued
once per member, a throttle, a scheduled start by the worker's job, cancel before and while sending, 退订 and
恢复订阅 over signed HTTP, and the results: delivered (TEMPLATESENDJOBFINISH pushed to the real callback), the
link's taps, orders and revenue attributed within the window."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.process.config import Config
from scheduler.jobs import JobDeps
from scheduler.profile_jobs import start_scheduled_campaigns
from store.core.clock import ManualClock
from store.core.db import write_transaction
from store.members.templates import seed_templates
from store.orders.checkout import Order
from store.outbox.notices import CUSTOM, DELIVERED, DROPPED, PENDING, SENT, TEMPLATE, Notice
from store.profiles.campaign_results import campaign_result
from store.profiles.campaigns import (
    CampaignError,
    CampaignOptions,
    cancel_campaign,
    create_campaign,
    start_campaign,
)
from store.profiles.compute import rebuild_profiles
from store.profiles.rules import ProfileRules
from store.profiles.segments import parse_rule, save_segment
from store.promotions.coupons import Coupon
from tests.gateway_support import running, with_mode
from tests.member_support import START, follower
from tests.outbox_support import TEMPLATES, outbox_config, outbox_rig

CAMPAIGN_TEMPLATES: dict[str, Any] = {
    **TEMPLATES,
    "campaign": {
        "template_id": "TPL_CAMPAIGN", "fields": {"subject": "thing1", "detail": "thing2", "sent_at": "time3"},
    },
    "campaign_template": {"template_id": "TPL_CAMPAIGN", "fields": {"subject": "thing1", "detail": "thing2"}},
}
WORDS = {"subject": "冬季新品上架", "detail": "回复上新查看本周新款"}


def campaign_notices(name: str) -> dict[str, Notice]:
    from store.profiles.models import Campaign

    cid = Campaign.get(Campaign.name == name).id
    return {n.openid: n for n in Notice.select().where(Notice.dedup_key.startswith(f"campaign:{cid}:"))}


def members(rig: Any, *openids: str, windows: tuple[str, ...] = ()) -> None:
    """Followers in the emulator and the shop, everyone in the segment 全员; `windows` have written to us."""
    for openid in openids:
        rig.world.follow(openid)
        follower(openid, rig.clock.now())
    rig.clock.advance(minutes=5)  # the follows' one-minute windows are over
    for openid in windows:
        rig.interact(openid, "message")
    rebuild_profiles(ProfileRules(), rig.clock.now())
    save_segment("全员", parse_rule({}), rig.clock.now())


def paid_order(openid: str, fen: int, at: datetime, no: str) -> None:
    with write_transaction():
        Order.create(order_no=no, openid=openid, title="t", subtotal_fen=fen, payable_fen=fen, created_at=at,
                     expires_at=at, paid_at=at, status="paid")  # fmt: skip


async def test_both_channels_link_taps_delivery_and_attributed_orders_and_opt_out(migrated: Config) -> None:
    clock = ManualClock(START)
    config = with_mode(outbox_config(migrated, templates=CAMPAIGN_TEMPLATES), "plain")
    async with running(config, clock=clock) as shop:
        options = {"token": config.wechat.token, "original_id": config.wechat.original_id}
        async with outbox_rig(config, clock=clock, callback_url=shop.url, **options) as rig:
            members(rig, "o_win", "o_buyer", "o_cold", "o_out", windows=("o_win", "o_buyer"))
            chat = shop.follower()
            out = await chat.send_text("o_out", "退订")
            assert out.shown.startswith("已为您退订活动消息") and "恢复订阅" in out.shown
            assert (await chat.send_text("o_out", "退订")).shown.startswith("您已退订活动消息")

            now = clock.now()
            create_campaign("冬季上新", "全员", WORDS, now, CampaignOptions(url="https://shop.example.com/new"))
            assert start_campaign("冬季上新", now) == 3  # o_out replied 退订
            await rig.drain()
            pushes = await rig.state.drain_pushes()
            sent = campaign_notices("冬季上新")
            assert set(sent) == {"o_win", "o_buyer", "o_cold"}
            assert {o: n.channel for o, n in sent.items()} == {"o_win": CUSTOM, "o_buyer": CUSTOM, "o_cold": TEMPLATE}
            assert sent["o_cold"].status == DELIVERED and [p.delivered for p in pushes] == [True]

            [text] = [d.payload["text"]["content"] for d in rig.world.delivered("o_win") if d.kind == "custom"]
            subject_line, link = text.split("\n")
            assert subject_line == "冬季新品上架：回复上新查看本周新款" and "/c/" in link
            [template] = [d.payload for d in rig.world.delivered("o_cold") if d.kind == "template"]
            assert template["template_id"] == "TPL_CAMPAIGN" and "/c/" in template["url"]

            path = "/c/" + link.split("/c/", 1)[1]
            for _ in range(2):  # the second tap is the same member's: counted once
                tap = await shop.session.get(shop.server.make_url(path), allow_redirects=False)
                assert (tap.status, tap.headers["Location"]) == (302, "https://shop.example.com/new")
            forged = await shop.session.get(shop.server.make_url(path[:-1] + "0"), allow_redirects=False)
            assert forged.status == 404

            paid_order("o_buyer", 19900, now + timedelta(days=2), "A1")  # inside the 7 days
            paid_order("o_buyer", 5000, now + timedelta(days=9), "A2")  # after them
            paid_order("o_out", 8800, now + timedelta(days=1), "A3")  # never sent the campaign
            result = campaign_result("冬季上新")
            assert (result.targeted, result.queued, result.sent, result.delivered, result.failed) == (3, 3, 3, 1, 0)
            assert result.by_channel == {"custom": 2, "template": 1}
            assert (result.clicked, result.converted, result.orders, result.revenue_fen) == (1, 1, 1, 19900)

            assert (await chat.send_text("o_out", "恢复订阅")).shown.startswith("已恢复订阅")
            create_campaign("二次上新", "全员", WORDS, clock.now())
            assert start_campaign("二次上新", clock.now()) == 4


async def test_custom_only_with_a_coupon_throttled_then_cancelled_while_sending(migrated: Config) -> None:
    config = outbox_config(migrated, templates=CAMPAIGN_TEMPLATES)
    async with outbox_rig(config, clock=ManualClock(START)) as rig:
        seed_templates(["BDAY30"], rig.clock.now())
        people = [f"o{i}" for i in range(6)]
        members(rig, *people, windows=("o0", "o1", "o2", "o4", "o5"))  # o3 has not written to us
        now = rig.clock.now()
        with pytest.raises(CampaignError, match="coupon"):
            create_campaign("x", "全员", WORDS, now, CampaignOptions(channel="custom", coupon="NOPE"))
        with pytest.raises(CampaignError, match="channel"):
            create_campaign("y", "全员", WORDS, now, CampaignOptions(channel="sms"))
        # a customer-service message may name an offer a template may not
        offer = {"subject": "会员专享优惠", "detail": "本周下单满199减30"}
        create_campaign("专享", "全员", offer, now, CampaignOptions(channel="custom", coupon="BDAY30", per_minute=2))
        assert start_campaign("专享", now) == 6
        assert start_campaign("专享", now) == 0  # again: nobody twice, no second coupon
        coupons = list(Coupon.select().where(Coupon.source.startswith("campaign:")))
        assert sorted(c.openid for c in coupons) == people

        due = sorted(n.due_at for n in campaign_notices("专享").values())
        assert due == [now] * 2 + [now + timedelta(minutes=1)] * 2 + [now + timedelta(minutes=2)] * 2
        await rig.drain()
        assert sorted(o for o, n in campaign_notices("专享").items() if n.status == SENT) == ["o0", "o1"]
        [text] = [d.payload["text"]["content"] for d in rig.world.delivered("o0") if d.kind == "custom"]
        assert text == (
            "会员专享优惠：本周下单满199减30\n送您一张优惠券：生日礼 满199减30，回复“我的优惠券”查看，下单时可用。"
        )

        rig.clock.advance(minutes=1)
        await rig.drain()
        after = campaign_notices("专享")
        assert after["o2"].status == SENT and after["o3"].status == DROPPED  # no window: never a template
        assert after["o3"].reason.startswith("not_service_notice")

        done = cancel_campaign("专享", rig.clock.now())
        assert done == {"cancelled_notices": 2, "coupons_withdrawn": 2}
        rig.clock.advance(minutes=5)
        await rig.drain()
        assert {o: n.status for o, n in campaign_notices("专享").items() if o in ("o4", "o5")} == {
            "o4": DROPPED, "o5": DROPPED,
        }  # fmt: skip
        withdrawn = Coupon.openid.in_(["o4", "o5"]) & Coupon.source.startswith("campaign:")
        assert Coupon.select().where(withdrawn).count() == 0
        result = campaign_result("专享")
        assert (result.status, result.sent, result.failed, result.cancelled) == ("cancelled", 3, 1, 2)
        with pytest.raises(CampaignError, match="cancelled"):
            start_campaign("专享", rig.clock.now())


async def test_template_only_takes_no_window_and_a_scheduled_start_waits_for_its_time(migrated: Config) -> None:
    config = outbox_config(migrated, templates=CAMPAIGN_TEMPLATES)
    async with outbox_rig(config, clock=ManualClock(START)) as rig:
        members(rig, "o_win", "o_cold", windows=("o_win",))
        now = rig.clock.now()
        create_campaign("周报", "全员", WORDS, now, CampaignOptions(channel="template"))
        deps = JobDeps(clock=rig.clock, worker_name="test")
        from store.profiles.campaigns import schedule_campaign

        row = schedule_campaign("周报", now + timedelta(hours=1), now)
        assert (row.status, row.starts_at) == ("scheduled", now + timedelta(hours=1))
        rig.clock.advance(minutes=59)
        assert await start_scheduled_campaigns({"deps": deps}) == {}
        assert campaign_notices("周报") == {}
        rig.clock.advance(minutes=1)
        assert await start_scheduled_campaigns({"deps": deps}) == {"周报": 2}
        assert await start_scheduled_campaigns({"deps": deps}) == {}  # started once
        await rig.drain()
        assert {o: n.channel for o, n in campaign_notices("周报").items()} == {"o_win": TEMPLATE, "o_cold": TEMPLATE}
        assert rig.windows.verdict("o_win", rig.clock.now()) == "message"  # the five are all still there

        create_campaign("取消", "全员", WORDS, now, CampaignOptions(channel="template"))
        schedule_campaign("取消", rig.clock.now() + timedelta(hours=2), rig.clock.now())
        assert cancel_campaign("取消", rig.clock.now()) == {"cancelled_notices": 0, "coupons_withdrawn": 0}
        rig.clock.advance(hours=3)
        assert await start_scheduled_campaigns({"deps": deps}) == {}
        assert campaign_result("取消").status == "cancelled" and campaign_notices("取消") == {}


async def test_two_workers_starting_at_once_queue_each_member_once(migrated: Config) -> None:
    config = outbox_config(migrated, templates=CAMPAIGN_TEMPLATES)
    async with outbox_rig(config, clock=ManualClock(START)) as rig:
        people = [f"p{i}" for i in range(40)]
        members(rig, *people)
        seed_templates(["BDAY30"], rig.clock.now())
        create_campaign("并发", "全员", WORDS, rig.clock.now(), CampaignOptions(coupon="BDAY30"))
        results: list[int] = []
        errors: list[BaseException] = []

        def start() -> None:
            try:
                results.append(start_campaign("并发", rig.clock.now()))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and sum(results) == 40
        assert len(campaign_notices("并发")) == 40
        assert Coupon.select().where(Coupon.source.startswith("campaign:")).count() == 40
        assert Notice.select().where(Notice.kind == "campaign", Notice.status == PENDING).count() == 40
