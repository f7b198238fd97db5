"""The new-follower gift over HTTP and on an injected clock: issued once under concurrent and retried subscribe
events and after unsubscribe / re-follow; the reminder goes out only inside a customer-service window; unclaimed
gifts expire; a gift coupon used in a paid order counts as claimed in the claim rate."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.process.config import Config
from bot.sandbox.follower import FollowerSimulator
from scheduler.jobs import JobDeps
from scheduler.member_jobs import sweep_gifts
from store.core.clock import ManualClock
from store.core.db import open_database
from store.members.accounts import Member
from store.orders.checkout import CartLine, create_order
from store.outbox.notices import CUSTOM, DROPPED, Notice
from store.promotions.coupons import AVAILABLE, EXPIRED, USED, Coupon
from store.promotions.gifts import GiftGrant, gift_stats, openid_digest
from tests.gateway_support import account_for, running
from tests.member_support import START
from tests.order_support import HOME, RULES
from tests.outbox_support import outbox_config, outbox_rig
from tests.pay_support import pay_world

SUBSCRIBE = {"MsgType": "event", "Event": "subscribe", "EventKey": ""}


def grants(openid: str, config: Config) -> list[GiftGrant]:
    return list(GiftGrant.select().where(GiftGrant.openid_digest == openid_digest(openid, config.wechat.app_id)))


def gift_coupons(openid: str) -> list[Coupon]:
    return list(Coupon.select().where(Coupon.openid == openid, Coupon.source == "gift"))


async def test_gift_issued_once_under_concurrent_and_retried_subscribes(migrated: Config) -> None:
    clock = ManualClock(START)
    async with running(migrated, clock) as shop:
        follower = shop.follower()
        events = []
        for _ in range(3):  # three distinct subscribe events (distinct CreateTime: dedup does not merge them)
            events.append(follower.build_xml("o_new", SUBSCRIBE))
            clock.advance(seconds=1)
        deliveries = await asyncio.gather(
            *(follower.deliver(xml, "o_new", is_user_message=False) for xml in [*events, *events])  # each retried
        )
        assert all(not d.failed for d in deliveries)
        announced = [d.xml for d in deliveries if "新人礼包已放入您的账户" in d.shown]
        assert announced and len(set(announced)) == 1, "one event brought the gift; its retry repeats that reply"

        open_database(migrated.database.url, migrated.var_dir)
        assert len(grants("o_new", migrated)) == 1
        coupons = gift_coupons("o_new")
        assert [c.template.code for c in coupons] == ["NEW20"]
        assert coupons[0].expires_at == grants("o_new", migrated)[0].issued_at + timedelta(hours=24)
        assert Member.get(Member.openid == "o_new").tier == "normal", "普通会员 from the follow"

        gone = await follower.unfollow("o_new")
        assert not gone.failed
        (grant,) = grants("o_new", migrated)
        assert grant.openid is None, "unsubscribe unlinks the ledger from the person; the digest stays"

        clock.advance(days=3)
        again = await follower.follow("o_new")
        assert "欢迎回来" in again.shown and "新人礼包" not in again.shown
        assert len(grants("o_new", migrated)) == 1 and len(gift_coupons("o_new")) == 1
        assert grants("o_new", migrated)[0].openid == "o_new", "re-linked while following again"


async def test_reminder_only_inside_a_window_then_expiry(migrated: Config) -> None:
    config = outbox_config(migrated)
    async with outbox_rig(config) as rig:
        clock = rig.clock
        deps = {"deps": JobDeps(clock=clock, worker_name="test")}
        async with running(rig.config, clock) as shop:
            follower = shop.follower(world=rig.world)
            for openid in ("o_chatty", "o_quiet"):
                assert "新人礼包" in (await follower.follow(openid)).shown
        issued = clock.now()

        clock.advance(hours=19, minutes=59)
        assert (await sweep_gifts(deps))["reminded"] == 0, "not before gift_reminder_hours_before (4 h)"
        clock.advance(minutes=1)
        rig.interact("o_chatty", "message")  # o_chatty wrote to the shop: a 48-hour window is open
        assert (await sweep_gifts(deps))["reminded"] == 2
        assert (await sweep_gifts(deps))["reminded"] == 0, "reminded once"
        await rig.drain()
        sent = {n.openid: n for n in Notice.select().where(Notice.kind == "gift_reminder")}
        assert (sent["o_chatty"].status, sent["o_chatty"].channel) == ("sent", CUSTOM), sent["o_chatty"].reason
        assert sent["o_quiet"].status == DROPPED, "a member-care notice with no template needs a window"
        text = rig.world.delivered("o_chatty")[-1].payload["text"]["content"]
        assert f"{issued + timedelta(hours=24):%Y-%m-%d %H:%M}" in text

        clock.advance(hours=4)
        assert (await sweep_gifts(deps))["expired"] == 2
        assert {c.status for c in Coupon.select().where(Coupon.source == "gift")} == {EXPIRED}
        stats = gift_stats(clock.now())
        assert (stats.issued, stats.claimed, stats.expired, stats.open, stats.claim_rate) == (2, 0, 2, 0, 0.0)


async def test_gift_used_in_a_paid_order_counts_as_claimed(migrated: Config) -> None:
    async with pay_world(migrated) as w:
        sim = FollowerSimulator(
            f"{w.shop_url}{w.config.server.wechat_path}", account_for(w.config, "plain"), w.session, w.clock,
            world=w.sandbox.world,
        )
        assert "新人礼包" in (await sim.follow("o_buyer")).shown
        assert "新人礼包" in (await sim.follow("o_window_shopper")).shown
        (gift,) = gift_coupons("o_buyer")
        assert gift.status == AVAILABLE
        order = create_order("o_buyer", [CartLine(w.shop.dress, 1)], HOME, [gift.code], 0, w.clock.now(), rules=RULES)
        assert order.payable_fen == 15900 - 2000, "满99减20 applied"
        params = await w.pay_params(order.order_no, "o_buyer")
        assert (await w.confirm(params, "o_buyer"))["err_msg"] == "get_brand_wcpay_request:ok"
        await w.sandbox.pay.deliver_due()
        assert Coupon.get(Coupon.code == gift.code).status == USED

        w.clock.advance(hours=25)
        result = await sweep_gifts({"deps": JobDeps(clock=w.clock, worker_name="test")})
        assert (result["claimed"], result["expired"]) == (1, 1)
        stats = gift_stats(w.clock.now())
        assert (stats.claimed, stats.expired, stats.claim_rate) == (1, 1, 0.5)
        status, body = await w.admin("GET", "/admin/api/gifts?days=7")
        assert status == 200
        assert body == {"days": 7, "issued": 2, "claimed": 1, "expired": 1, "open": 0, "claim_rate": 0.5}
