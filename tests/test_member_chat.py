"""The members' chat answers over HTTP: 我的优惠券 (with expiry dates, the gift labelled), 我是什么会员 (with the way
to the next tier), 我的积分 (with what expires soon), and the birthday greeting shown once on the next message."""

from __future__ import annotations

import dataclasses

from bot.process.config import Config
from bot.web.runtime import RESOURCES
from scheduler.jobs import JobDeps
from scheduler.member_jobs import MemberJobDeps, sweep_member_birthdays
from store.core.clock import ManualClock
from store.core.db import open_database
from store.members.settings import MemberSettings
from tests.gateway_support import running
from tests.member_support import START, pay


async def test_member_points_and_coupons_answers(migrated: Config) -> None:
    clock = ManualClock(START)
    async with running(migrated, clock) as shop:
        follower = shop.follower()
        assert "新人礼包" in (await follower.follow("o_m")).shown
        coupons = (await follower.send_text("o_m", "我的优惠券")).shown
        assert "您有1张可用优惠券" in coupons and "满99减20（新人礼包），有效期至2026-11-25 10:00" in coupons
        assert (await follower.send_text("o_m", "礼包")).shown == coupons, "the reminder's 回复“礼包” lands here"

        member = (await follower.send_text("o_m", "我是什么会员")).shown
        assert member.startswith("您是普通会员，享新人礼包、生日礼。")
        assert "再消费¥5000.00即可升级VIP会员，享95折、专属客服（进度0%）" in member
        assert "您有0积分" in (await follower.send_text("o_m", "我的积分")).shown

        open_database(migrated.database.url, migrated.var_dir)
        pay("o_m", 300000, "M1", clock.now())
        assert "（进度60%）" in (await follower.send_text("o_m", "会员")).shown
        pay("o_m", 200000, "M2", clock.now())
        vip = (await follower.click("o_m", "MEMBER")).shown
        assert vip.startswith("您是VIP会员，享95折、专属客服。") and "累计消费¥5000.00，近一年消费¥5000.00" in vip
        assert "近一年再消费¥45000.00即可升级黑金会员，享88折、优先购权（进度10%）" in vip

        points = (await follower.send_text("o_m", "我的积分")).shown
        assert points.startswith("您有5000积分，可抵¥50.00。100积分抵1元") and "到期" not in points
        clock.advance(days=340)
        later = (await follower.send_text("o_m", "积分")).shown
        assert "其中5000积分将在2027年11月24日起陆续到期" in later

        clock.advance(days=30)  # the gift coupon expired long ago
        assert (await follower.send_text("o_m", "优惠券")).shown == "您目前没有可用的优惠券。"


async def test_birthday_gift_greets_once_on_the_next_message(migrated: Config) -> None:
    clock = ManualClock(START)
    async with running(migrated, clock) as shop:
        follower = shop.follower()
        await follower.follow("o_bd")
        assert "确认把生日设为11月25日吗" in (await follower.send_text("o_bd", "设置生日 11月25日")).shown
        assert "已把您的生日设为11月25日" in (await follower.send_text("o_bd", "是")).shown

        clock.set(START.replace(day=25, hour=9))
        settings = MemberSettings.from_settings(migrated.shop, migrated.wechat.app_id)
        ctx = {
            "deps": JobDeps(clock=clock, worker_name="test", members=MemberJobDeps(settings, migrated.redis.prefix)),
            "redis": shop.app[RESOURCES].aredis,
        }
        assert (await sweep_member_birthdays(ctx))["flagged"] == 1
        assert (await sweep_member_birthdays(ctx))["notices"] == 0, "run twice: sent once"

        greeted = (await follower.send_text("o_bd", "你好")).shown
        assert greeted.startswith("🎂 生日快乐！您的生日礼「生日礼 满199减30」已放进账户，12月25日前下单可用")
        assert "欢迎来到" in greeted, "the answer to the message follows the greeting"
        assert "生日快乐" not in (await follower.send_text("o_bd", "你好")).shown, "shown once"
        coupons = (await follower.send_text("o_bd", "我的优惠券")).shown
        assert "生日礼 满199减30（生日礼），有效期至2026-12-25 09:00" in coupons


async def test_a_vip_asking_for_a_human_goes_to_their_own_agent(migrated: Config) -> None:
    """专属客服: the transfer names the VIP's agent (KfAccount); a 黑金 gets theirs; others any agent."""
    shop_config = dataclasses.replace(migrated.shop, vip_kf_account="vip01@wxshop", black_gold_kf_account="bg01@wxshop")
    clock = ManualClock(START)
    async with running(dataclasses.replace(migrated, shop=shop_config), clock) as shop:
        follower = shop.follower()
        for openid in ("o_n", "o_v", "o_b"):
            await follower.follow(openid)
        open_database(migrated.database.url, migrated.var_dir)
        pay("o_v", 500000, "V1", clock.now())
        pay("o_b", 5000000, "B1", clock.now())

        plain = await follower.send_text("o_n", "人工")
        assert plain.reply["MsgType"] == "transfer_customer_service" and "TransInfo" not in plain.reply
        vip = await follower.send_text("o_v", "转人工")
        assert vip.reply["MsgType"] == "transfer_customer_service"
        assert vip.reply["TransInfo"]["KfAccount"] == "vip01@wxshop"
        black_gold = await follower.send_text("o_b", "人工客服")
        assert black_gold.reply["TransInfo"]["KfAccount"] == "bg01@wxshop"
