"""Shop knowledge and small talk over HTTP: signed XML in, the answer built from the running config out, with the
follower's own gift, tier progress and points in it."""

from __future__ import annotations

import dataclasses

from bot.process.config import Config
from dialogs.knowledge import smalltalk
from store.core.clock import ManualClock
from store.core.db import open_database
from tests.gateway_support import running
from tests.member_support import START, pay


async def test_knowledge_answers_quote_the_config_and_the_followers_own_facts(migrated: Config) -> None:
    clock = ManualClock(START.replace(hour=8))
    async with running(migrated, clock) as shop:
        follower = shop.follower()
        await follower.follow("o_k")
        offers = (await follower.send_text("o_k", "现在有什么活动？")).shown
        assert offers.startswith("🔥 满减：单笔订单满200减20，下单自动减。")
        assert "新人礼包（新人礼 满99减20）11月25日 08:00前可用" in offers and "您有1张可用优惠券" in offers
        assert "还能用到11月25日 08:00" in (await follower.send_text("o_k", "新人礼包有什么")).shown
        assert "您有1张可用优惠券" in (await follower.send_text("o_k", "优惠券怎么用")).shown

        assert "再消费¥5000.00可升VIP会员（进度0%）" in (await follower.send_text("o_k", "会员怎么升级")).shown
        open_database(migrated.database.url, migrated.var_dir)
        pay("o_k", 300000, "K1", clock.now())
        assert "再消费¥2000.00可升VIP会员（进度60%）" in (await follower.send_text("o_k", "怎么升级")).shown
        points = (await follower.send_text("o_k", "积分怎么用")).shown
        assert "100积分抵1元" in points and "您现在有3000积分，可抵¥30.00" in points

        assert "收货后7天内支持无理由退货" in (await follower.send_text("o_k", "几天无理由？")).shown
        assert (await follower.send_text("o_k", "多久发货")).shown.startswith("🚚 付款后48小时内发货")
        birthday = (await follower.send_text("o_k", "生日有什么福利")).shown
        assert "「生日礼 满199减30」" in birthday and "回复“设置生日”" in birthday


async def test_small_talk_and_greetings_by_the_hour(migrated: Config) -> None:
    clock = ManualClock(START.replace(hour=8))
    async with running(migrated, clock) as shop:
        follower = shop.follower()
        await follower.follow("o_t")
        morning = (await follower.send_text("o_t", "你好")).shown
        assert morning.startswith("早上好") and "欢迎来到微选小店" in morning
        thanks = (await follower.send_text("o_t", "谢谢")).shown
        assert any(thanks.startswith(v.format(shop="微选小店")) for v in smalltalk.THANKS) and "回复“" in thanks
        laugh = (await follower.send_text("o_t", "哈哈")).shown
        assert any(laugh.startswith(v.format(shop="微选小店")) for v in smalltalk.LAUGH)
        clock.set(START.replace(hour=21))
        assert (await follower.send_text("o_t", "您好")).shown.startswith("晚上好")
        assert "晚安" in (await follower.send_text("o_t", "拜拜")).shown


async def test_a_question_mid_flow_is_answered_and_the_flow_goes_on(migrated: Config) -> None:
    async with running(migrated, ManualClock(START)) as shop:
        follower = shop.follower()
        await follower.follow("o_f")
        await follower.send_text("o_f", "设置生日")
        shipping = await follower.send_text("o_f", "多久发货")
        assert shipping.shown.startswith("🚚 付款后48小时内发货") and "继续“设置生日”" in shipping.shown


async def test_another_config_gives_another_answer(migrated: Config) -> None:
    config = dataclasses.replace(
        migrated,
        shop=dataclasses.replace(migrated.shop, full_reduction_threshold_fen=30000, full_reduction_fen=5000),
        after_sales=dataclasses.replace(migrated.after_sales, no_reason_return_days=15, answer_hours=24),
    )
    async with running(config, ManualClock(START)) as shop:
        follower = shop.follower()
        offers = (await follower.send_text("o_c", "满减怎么算")).shown
        assert "单笔订单满300减50" in offers and "满200减20" not in offers
        policy = (await follower.send_text("o_c", "退货政策")).shown
        assert "收货后15天内" in policy and "24小时内答复" in policy
