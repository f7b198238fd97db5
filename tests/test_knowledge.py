"""Shop knowledge and small talk as pure functions of (settings, the follower's facts, now, rng): no database, no
Redis. Every answer comes from the config — change the config and the answer changes — fits a phone screen and
ends with something to reply next."""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime

import pytest

from bot.process.config import AfterSalesConfig, ShopConfig
from dialogs.intents import IntentDetector
from dialogs.knowledge import smalltalk, topics
from dialogs.knowledge.settings import KnowledgeSettings
from dialogs.knowledge.topics import CouponInfo, GiftStatus
from dialogs.normalize import normalize
from store.core.clock import SHANGHAI
from store.members.tiers import TierStanding
from store.orders.pricing import Tier

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
OPEN_GIFT = GiftStatus(datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI), had=True)
USED_GIFT = GiftStatus(None, had=True)
NORMAL = TierStanding(Tier.NORMAL, 300000, 300000, Tier.VIP, 200000, 0.6)
VIP = TierStanding(Tier.VIP, 500000, 500000, Tier.BLACK_GOLD, 4500000, 0.1)
BLACK_GOLD = TierStanding(Tier.BLACK_GOLD, 6000000, 5200000, None, 0, 1.0)


def settings(after_sales: dict | None = None, **shop: object) -> KnowledgeSettings:
    """From the config sections as `bot.process.config` types them (the defaults, with the given keys changed)."""
    return KnowledgeSettings.from_settings(
        dataclasses.replace(ShopConfig(), **shop), dataclasses.replace(AfterSalesConfig(), **(after_sales or {}))
    )


DEFAULT = settings()


def every_answer(s: KnowledgeSettings) -> list[str]:
    return [
        topics.promotions(s, ("满99减20",), OPEN_GIFT, 2),
        topics.promotions(s, (), USED_GIFT, 0),
        topics.coupon_rules(s, 3),
        topics.gift(s, ("满99减20",), OPEN_GIFT),
        topics.gift(s, ("满99减20",), USED_GIFT),
        topics.gift(s, (), GiftStatus(None, had=False)),
        *(topics.tiers(s, mine) for mine in (None, NORMAL, VIP, BLACK_GOLD)),
        topics.birthday(s, CouponInfo("生日礼 满199减30", 30), "11-25"),
        topics.birthday(s, None, None),
        topics.points(s, 5000),
        topics.points(s, 0),
        topics.return_policy(s),
        topics.shipping(s),
    ]


def test_every_answer_fits_a_phone_and_ends_with_a_nudge() -> None:
    for text in every_answer(DEFAULT):
        assert len(text.encode()) <= 2048 and len(text.splitlines()) <= 6, text
        assert "回复“" in text.splitlines()[-1], text


def test_promotions_name_the_full_reduction_discounts_gift_and_coupons() -> None:
    text = topics.promotions(DEFAULT, ("满99减20",), OPEN_GIFT, 2)
    assert "🔥 满减：单笔订单满200减20，下单自动减。" in text
    assert "VIP会员95折，黑金会员88折；满减与折扣可同享，其他优惠不可叠加" in text
    assert "新人礼包（满99减20）11月25日 10:00前可用" in text and "您有2张可用优惠券" in text
    plain = topics.promotions(DEFAULT, (), USED_GIFT, 0)
    assert "新人礼包" not in plain and "优惠券" not in plain


def test_change_the_config_and_the_promotions_change() -> None:
    other = settings(full_reduction_threshold_fen=30000, full_reduction_fen=5000, vip_discount=0.9, stacking=())
    text = topics.promotions(other, (), USED_GIFT, 0)
    assert "满300减50" in text and "满200减20" not in text
    assert "VIP会员9折" in text and "各类优惠不可叠加" in text
    assert "目前没有满减活动" in topics.promotions(settings(full_reduction_fen=0), (), USED_GIFT, 0)
    assert "两种折扣与" not in topics.stacking_rule(settings(stacking=("折扣+折扣", "满减+立减")))
    assert topics.stacking_rule(settings(stacking=("折扣+折扣", "满减+立减"))).startswith("两种折扣、满减与立减可同享")


def test_coupon_rules_follow_stacking_and_points_share() -> None:
    text = topics.coupon_rules(DEFAULT, 3)
    assert "满减与折扣可同享" in text and "最多抵订单金额的50%" in text and "您有3张可用优惠券" in text
    other = topics.coupon_rules(settings(stacking=("满减+立减",), points_max_share=0.3), 0)
    assert "满减与立减可同享" in other and "最多抵订单金额的30%" in other and "您有" not in other


def test_gift_says_whether_the_followers_own_is_still_open() -> None:
    assert "24小时内下单可用" in topics.gift(DEFAULT, ("满99减20",), OPEN_GIFT)
    assert "还能用到11月25日 10:00" in topics.gift(DEFAULT, ("满99减20",), OPEN_GIFT)
    assert "已经用过或已过期" in topics.gift(DEFAULT, ("满99减20",), USED_GIFT)
    assert "48小时内下单可用" in topics.gift(settings(gift_claim_hours=48), ("满99减20", "无门槛减5元"), USED_GIFT)
    assert topics.gift(DEFAULT, (), USED_GIFT).startswith("目前没有新人礼包活动")


def test_tiers_list_thresholds_benefits_and_the_followers_progress() -> None:
    text = topics.tiers(DEFAULT, NORMAL)
    assert "VIP会员：累计消费满5000元，95折、专属客服" in text
    assert "黑金会员：近一年消费满50000元，88折、优先购权" in text
    assert "您是普通会员，再消费¥2000.00可升VIP会员（进度60%）" in text
    assert "您是VIP会员，近一年再消费¥45000.00可升黑金会员（进度10%）" in topics.tiers(DEFAULT, VIP)
    assert "您已是黑金会员，近一年消费保持50000元以上即可保留" in topics.tiers(DEFAULT, BLACK_GOLD)
    other = topics.tiers(settings(vip_spend_fen=300000, tier_year="calendar", black_gold_discount=0.85), None)
    assert "累计消费满3000元" in other and "今年消费满50000元，85折" in other


def test_birthday_names_the_coupon_and_asks_for_the_date_when_unknown() -> None:
    known = topics.birthday(DEFAULT, CouponInfo("生日礼 满199减30", 30), "11-25")
    assert "生日当天09:00起，「生日礼 满199减30」自动放进您的账户，30天内下单可用" in known
    assert "您的生日是11月25日" in known
    unknown = topics.birthday(settings(birthday_sweep_at="08:30"), CouponInfo("满99减20", 7), None)
    assert "08:30起" in unknown and "7天内" in unknown and "回复“设置生日”" in unknown


def test_points_earn_spend_expiry_and_balance() -> None:
    text = topics.points(DEFAULT, 5000)
    assert "每消费1元得1积分" in text and "100积分抵1元" in text and "最多抵订单金额的50%" in text
    assert "获得后365天，到期前7天提醒您" in text and "您现在有5000积分，可抵¥50.00" in text
    other = topics.points(settings(points_per_yuan=200, points_earn_per_yuan=2, points_valid_days=730), 5000)
    assert "每消费1元得2积分" in other and "200积分抵1元" in other and "获得后730天" in other
    assert "可抵¥25.00" in other


def test_return_policy_and_shipping_follow_the_config() -> None:
    text = topics.return_policy(DEFAULT)
    assert "收货后7天内支持无理由退货" in text and "48小时内答复" in text and "换货72小时内审核" in text
    assert "5个工作日内" in text and "付款30天内的订单" in text
    other = topics.return_policy(settings({"no_reason_return_days": 15, "answer_hours": 24, "eligible_days": 60}))
    assert "收货后15天内" in other and "24小时内答复" in other and "付款60天内" in other
    assert "无理由" not in topics.return_policy(settings({"no_reason_return_days": 0}))
    assert "退货审核通过补贴运费¥10.00（以积分发放）；换货审核通过后新商品包邮寄出" in text
    refunded = topics.return_policy(settings({"return_subsidy_method": "refund", "return_subsidy_fen": 800}))
    assert "补贴运费¥8.00（随退款退回）" in refunded
    assert "补贴运费" not in topics.return_policy(settings({"return_subsidy_fen": 0}))
    assert "付款后48小时内发货" in topics.shipping(DEFAULT) and "30分钟内付款" in topics.shipping(DEFAULT)
    assert "付款后24小时内发货" in topics.shipping(settings(ship_within_hours=24))


@pytest.mark.parametrize("kind", smalltalk.KINDS)
def test_small_talk_varies_names_the_shop_and_nudges(kind: str) -> None:
    rng = random.Random(7)
    replies = [smalltalk.reply(kind, "微选小店", NOW, rng) for _ in range(40)]
    assert len(set(replies)) >= 3, "several variants, picked with the rng"
    assert all("回复“" in r and len(r) <= 60 for r in replies)
    same = random.Random(7)
    assert replies == [smalltalk.reply(kind, "微选小店", NOW, same) for _ in range(40)], "the rng decides"


def test_shop_name_and_bye_at_night() -> None:
    rng = random.Random(1)
    assert any("好物铺" in smalltalk.reply("thanks", "好物铺", NOW, rng) for _ in range(40))
    assert "晚安" in smalltalk.reply("bye", "好物铺", NOW.replace(hour=22), rng)
    assert "晚安" not in smalltalk.reply("bye", "好物铺", NOW.replace(hour=15), rng)


def test_greeting_follows_the_hour() -> None:
    rng = random.Random(3)
    morning = smalltalk.greet("微选小店", NOW.replace(hour=8), rng)
    evening = smalltalk.greet("微选小店", NOW.replace(hour=21), rng)
    assert morning.startswith("早上好") and "欢迎来到微选小店" in morning
    assert evening.startswith("晚上好") and "欢迎来到微选小店" in evening
    assert smalltalk.hello(datetime(2026, 11, 24, 13, 0, tzinfo=SHANGHAI)) == "下午好"
    assert smalltalk.hello(datetime(2026, 11, 24, 0, 30, tzinfo=SHANGHAI)).startswith("夜深了")


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("现在有什么活动？", "ask_promotions"),
        ("满减怎么算", "ask_promotions"),
        ("优惠券怎么用", "ask_coupon_rules"),
        ("满减和会员折扣能叠加吗", "ask_coupon_rules"),
        ("新人礼包有什么", "ask_gift"),
        ("会员怎么升级", "ask_tiers"),
        ("怎么成为VIP", "ask_tiers"),
        ("生日有什么福利", "ask_birthday_benefit"),
        ("积分怎么用", "ask_points_rules"),
        ("几天无理由退货", "ask_return_policy"),
        ("退货政策", "ask_return_policy"),
        ("下单后多久发货", "ask_shipping_time"),
        ("谢谢！", "smalltalk_thanks"),
        ("好的", "smalltalk_ok"),
        ("哈哈哈", "smalltalk_laugh"),
        ("😂", "smalltalk_laugh"),
        ("拜拜", "smalltalk_bye"),
        # the follower's own data keeps its intents
        ("礼包", "coupons"),
        ("我的优惠券", "coupons"),
        ("我的积分", "points"),
        ("我是什么会员", "member"),
        ("我要退货", "after_sales"),
        ("什么时候发货", "tracking"),
        ("设置生日", "birthday"),
        ("你好", "greet"),
    ],
)
def test_keywords_reach_the_knowledge_intents_without_stealing_others(text: str, intent: str) -> None:
    found = IntentDetector().detect(text, normalize(text), NOW)
    assert found is not None and found.name == intent
