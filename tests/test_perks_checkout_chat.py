"""Points and several coupons at the chat checkout, over signed HTTP: the confirmation offers the points the buyer
may use ("用积分", "用500积分", "不用积分"), the order spends them; the best coupon combination is offered first."""

from __future__ import annotations

from datetime import timedelta

from bot.chat.conversation import SEARCH_BUILT
from bot.process.config import Config
from store.core.clock import ManualClock
from store.core.db import open_database
from store.members.accounts import points_balance
from store.orders.checkout import Order
from store.promotions.coupons import Coupon, CouponTemplate
from tests.gateway_support import running
from tests.order_support import give_points
from tests.test_browse_chat import shop_config  # noqa: F401 - the fixture with the catalog imported


async def to_month_card(follower, openid: str) -> str:
    """A ¥25 virtual 月卡 in the cart, then 结算: what the shop says next."""
    await follower.send_text(openid, "看看视频会员")
    await follower.send_text(openid, "1")
    chosen = await follower.send_text(openid, "月卡")
    assert "¥25" in chosen.shown, chosen.shown
    added = await follower.send_text(openid, "1")
    assert "已加入购物车" in added.shown, added.shown
    return (await follower.send_text(openid, "结算")).shown


async def test_points_are_offered_applied_and_spent(shop_config: Config) -> None:  # noqa: F811
    clock = ManualClock()
    open_database(shop_config.database.url, shop_config.var_dir)
    give_points("o_pts", 2000, clock.now())
    async with running(shop_config, clock) as shop:
        await shop.app[SEARCH_BUILT]  # the index builds in the background at start-up; a slow machine misses 5 s
        follower = shop.follower()
        confirm = await to_month_card(follower, "o_pts")
        assert "应付 ¥25.00" in confirm
        assert "您有2000积分，本单最多可用1250积分抵¥12.50（积分最多抵扣订单金额的50%）" in confirm, confirm

        some = (await follower.send_text("o_pts", "用500积分")).shown
        assert "使用500积分抵¥5.00" in some and "应付 ¥20.00" in some and "不用积分" in some, some
        too_many = (await follower.send_text("o_pts", "用3000积分")).shown
        assert "您只有2000积分，本单最多可用1250积分" in too_many and "应付 ¥12.50" in too_many, too_many
        none = (await follower.send_text("o_pts", "不用积分")).shown
        assert "应付 ¥25.00" in none and "积分抵现" not in none and "本单最多可用1250积分" in none, none
        everything = (await follower.send_text("o_pts", "用积分")).shown
        assert "使用1250积分抵¥12.50" in everything and "应付 ¥12.50" in everything, everything

        placed = await follower.send_text("o_pts", "确认")
        assert placed.reply["MsgType"] == "news", placed.shown
        order = Order.get(Order.openid == "o_pts")
        assert (order.points_used, order.points_fen, order.payable_fen) == (1250, 1250, 1250)
        assert "使用1250积分" in order.pricing
        assert points_balance("o_pts") == 750


async def test_points_changed_before_confirming_are_asked_again(shop_config: Config) -> None:  # noqa: F811
    clock = ManualClock()
    open_database(shop_config.database.url, shop_config.var_dir)
    give_points("o_pts2", 600, clock.now())
    async with running(shop_config, clock) as shop:
        await shop.app[SEARCH_BUILT]  # the index builds in the background at start-up; a slow machine misses 5 s
        follower = shop.follower()
        await to_month_card(follower, "o_pts2")
        assert "应付 ¥19.00" in (await follower.send_text("o_pts2", "用积分")).shown
        give_points("o_pts2", -500, clock.now())  # spent elsewhere meanwhile
        again = (await follower.send_text("o_pts2", "确认")).shown
        assert "积分有变动，当前只有100积分，请重新确认" in again and "应付 ¥25.00" in again, again
        assert Order.select().where(Order.openid == "o_pts2").count() == 0
        assert points_balance("o_pts2") == 100


async def test_a_buyer_without_points_is_not_offered_them(shop_config: Config) -> None:  # noqa: F811
    async with running(shop_config) as shop:
        await shop.app[SEARCH_BUILT]  # the index builds in the background at start-up; a slow machine misses 5 s
        follower = shop.follower()
        confirm = await to_month_card(follower, "o_nopts")
        assert "积分" not in confirm.split("应付")[1], confirm
        said = (await follower.send_text("o_nopts", "用积分")).shown
        assert "本单暂不能使用积分（您有0积分）" in said and "应付 ¥25.00" in said, said


def _coupon(openid: str, template: str, kind: str, value: int, threshold_fen: int, clock: ManualClock,
            days: int) -> str:  # fmt: skip
    found = CouponTemplate.get_or_none(CouponTemplate.code == template) or CouponTemplate.create(
        code=template, kind=kind, value=value, threshold_fen=threshold_fen, created_at=clock.now()
    )
    code = f"C-{openid}-{template}"
    Coupon.create(code=code, template=found, openid=openid, issued_at=clock.now(),
                  expires_at=clock.now() + timedelta(days=days))  # fmt: skip
    return code


async def test_the_best_coupon_combination_is_offered_first(shop_config: Config) -> None:  # noqa: F811
    clock = ManualClock()
    open_database(shop_config.database.url, shop_config.var_dir)
    fixed = _coupon("o_cc", "OFF5", "fixed", 500, 0, clock, days=1)  # 立减: alone, saves ¥5
    off3 = _coupon("o_cc", "M20J3", "threshold", 300, 2000, clock, days=2)  # 满减 ...
    rate = _coupon("o_cc", "P90", "percent", 90, 0, clock, days=3)  # ... + 折扣 stack: ¥2.50 + ¥3
    async with running(shop_config, clock) as shop:
        await shop.app[SEARCH_BUILT]  # the index builds in the background at start-up; a slow machine misses 5 s
        follower = shop.follower()
        offered = await to_month_card(follower, "o_cc")
        assert "1. 无门槛减5元" in offered and "2. 满20减3" in offered and "3. 9折" in offered, offered
        assert "推荐组合：第2＋3张一起用，共优惠¥5.50" in offered, offered
        best = (await follower.send_text("o_cc", "好")).shown
        assert "✓ 满减券「满20减3」 -¥3.00" in best and "✓ 折扣券「9折」 -¥2.50" in best, best
        assert "立减券" not in best and "应付 ¥19.50" in best, best
        await follower.send_text("o_cc", "确认")
        order = Order.get(Order.openid == "o_cc")
        assert order.payable_fen == 1950 and order.discount_fen == 550
        locked = {c.code for c in Coupon.select().where(Coupon.locked_by == order.order_no)}
        assert locked == {off3, rate}
        assert Coupon.get(Coupon.code == fixed).status == "available"


async def test_the_buyer_may_choose_coupons_themselves(shop_config: Config) -> None:  # noqa: F811
    clock = ManualClock()
    open_database(shop_config.database.url, shop_config.var_dir)
    _coupon("o_cs", "OFF5", "fixed", 500, 0, clock, days=1)
    _coupon("o_cs", "P90", "percent", 90, 0, clock, days=3)
    async with running(shop_config, clock) as shop:
        await shop.app[SEARCH_BUILT]  # the index builds in the background at start-up; a slow machine misses 5 s
        follower = shop.follower()
        offered = await to_month_card(follower, "o_cs")
        assert "推荐：第1张，优惠¥5。" in offered, offered
        assert "抱歉，没听懂" in (await follower.send_text("o_cs", "1 7")).shown
        both = (await follower.send_text("o_cs", "1 2")).shown
        assert "✓ 立减券「无门槛减5元」 -¥5.00" in both and "✗ 折扣券「9折」" in both, both
        assert "不可同享" in both and "应付 ¥20.00" in both, both
