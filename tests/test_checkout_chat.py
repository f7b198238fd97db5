"""Checkout in chat over HTTP: SKU → quantity → cart → address → coupon → confirmation → pay link."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.process.config import Config
from store.catalog.inventory import stock_of
from store.catalog.products import Sku
from store.core.clock import ManualClock
from store.core.db import open_database
from store.orders.checkout import Order
from store.promotions.coupons import Coupon, CouponTemplate
from tests.gateway_support import running
from tests.test_browse_chat import shop_config  # noqa: F401 - the fixture with the catalog imported

ADDRESS = "张三 13812345678 广东省深圳市南山区科技园路1号"


async def pick(follower, openid: str, search: str, spec: str) -> None:
    await follower.send_text(openid, search)
    await follower.send_text(openid, "1")
    chosen = await follower.send_text(openid, spec)
    assert "请回复购买数量" in chosen.shown, chosen.shown


async def test_from_sku_to_pay_link(shop_config: Config) -> None:  # noqa: F811
    clock = ManualClock()
    async with running(shop_config, clock) as shop:
        follower = shop.follower()
        await pick(follower, "o_c", "看看法式碎花雪纺连衣裙", "红色 M")
        cart = await follower.send_text("o_c", "2件")
        assert "已加入购物车" in cart.shown and "×2 ¥318" in cart.shown
        address = await follower.send_text("o_c", "结算")
        assert "请发送收货信息" in address.shown
        bad = await follower.send_text("o_c", "张三 123 深圳")
        assert "地址不完整" in bad.shown
        confirm = await follower.send_text("o_c", ADDRESS)
        assert "商品合计 ¥318.00" in confirm.shown and "应付" in confirm.shown and "收货：张三" in confirm.shown
        assert "满" in confirm.shown, "the full-reduction rule explains itself even when it does not apply"
        paid = await follower.send_text("o_c", "确认")
        assert paid.reply["MsgType"] == "news"
        item = paid.reply["Articles"]["item"]
        order_no = re.search(r"/pay/(\w+)$", item["Url"])[1]
        assert item["Title"].startswith("订单待支付 ¥")

        open_database(shop_config.database.url, shop_config.var_dir)
        order = Order.get(Order.order_no == order_no)
        assert order.status == "unpaid" and order.openid == "o_c" and order.ship_name == "张三"
        assert order.expires_at == clock.now() + timedelta(minutes=shop_config.shop.unpaid_timeout_minutes)
        assert "购物车是空的" in (await follower.send_text("o_c", "购物车")).shown

        await pick(follower, "o_c", "看看法式碎花雪纺连衣裙", "红色 L")
        await follower.send_text("o_c", "1")
        remembered = await follower.send_text("o_c", "结算")
        assert "寄到上次的地址吗" in remembered.shown and "138****5678" in remembered.shown
        assert "应付" in (await follower.send_text("o_c", "是")).shown


async def test_cart_commands_and_stock_limits(shop_config: Config) -> None:  # noqa: F811
    async with running(shop_config) as shop:
        follower = shop.follower()
        await pick(follower, "o_k", "看看法式碎花雪纺连衣裙", "红色 L")
        assert "库存只剩18件" in (await follower.send_text("o_k", "50")).shown
        assert "抱歉，没听懂" in (await follower.send_text("o_k", "很多")).shown
        await follower.send_text("o_k", "1")
        assert "购物车给您留着" in (await follower.send_text("o_k", "继续逛")).shown
        await pick(follower, "o_k", "看看真丝长款连衣裙", "M")
        two = await follower.send_text("o_k", "一件")
        assert "1. " in two.shown and "2. " in two.shown
        one = await follower.send_text("o_k", "删掉第1个")
        assert "已删除" in one.shown and "2. " not in one.shown and "真丝" in one.shown
        assert "购物车空了" in (await follower.send_text("o_k", "删掉第1个")).shown


async def test_virtual_goods_skip_the_address_and_coupons_apply(shop_config: Config) -> None:  # noqa: F811
    clock = ManualClock()
    open_database(shop_config.database.url, shop_config.var_dir)
    template = CouponTemplate.create(code="NEW5", kind="fixed", value=500, threshold_fen=0, created_at=clock.now())
    Coupon.create(code="C-O-V-1", template=template, openid="o_v", issued_at=clock.now(),
                  expires_at=clock.now() + timedelta(days=3))  # fmt: skip
    async with running(shop_config, clock) as shop:
        follower = shop.follower()
        await follower.send_text("o_v", "看看视频会员")
        await follower.send_text("o_v", "1")
        chosen = await follower.send_text("o_v", "月卡")
        assert "无需物流" in chosen.shown, chosen.shown
        await follower.send_text("o_v", "1")
        coupons = await follower.send_text("o_v", "结算")
        assert "您有可用优惠券" in coupons.shown and "1. " in coupons.shown
        confirm = await follower.send_text("o_v", "1")
        assert "无需收货地址" in confirm.shown and "-¥5.00" in confirm.shown and "应付 ¥20.00" in confirm.shown
        sku = Sku.get(Sku.spec.contains("月卡"))
        before = stock_of(sku.id)
        paid = await follower.send_text("o_v", "确认")
        assert paid.reply["MsgType"] == "news"
        assert Coupon.get(Coupon.code == "C-O-V-1").status == "locked"
        assert stock_of(sku.id) == before - 1, "the order reserved its stock"
        order = Order.get(Order.openid == "o_v")
        assert not order.needs_shipping and order.discount_fen == 500


async def test_my_orders_lists_them_with_a_pay_link(shop_config: Config) -> None:  # noqa: F811
    async with running(shop_config) as shop:
        follower = shop.follower()
        assert "还没有订单" in (await follower.send_text("o_m", "我的订单")).shown
        await pick(follower, "o_m", "看看法式碎花雪纺连衣裙", "白色 M")
        await follower.send_text("o_m", "1")
        await follower.send_text("o_m", "结算")
        await follower.send_text("o_m", ADDRESS)
        await follower.send_text("o_m", "确认")
        listed = await follower.send_text("o_m", "我的订单")
        assert "您最近的订单" in listed.shown and "待支付" in listed.shown and "/pay/" in listed.shown
        detail = await follower.send_text("o_m", "订单详情 1")
        assert detail.shown.startswith("订单 ") and "（待支付）" in detail.shown, detail.shown
        assert "×1 ¥159" in detail.shown and "应付" in detail.shown and "收货：张三" in detail.shown
        assert "没有找到这个订单" in (await follower.send_text("o_m", "订单详情 9")).shown


async def test_unsubscribe_forgets_personal_data_but_keeps_anonymised_orders(shop_config: Config) -> None:  # noqa: F811
    from store.orders.addresses import Address
    from store.orders.checkout import cancel_if_unpaid

    clock = ManualClock()
    async with running(shop_config, clock) as shop:
        follower = shop.follower()
        await pick(follower, "o_u", "看看法式碎花雪纺连衣裙", "白色 M")
        await follower.send_text("o_u", "1")
        await follower.send_text("o_u", "结算")
        await follower.send_text("o_u", ADDRESS)
        await follower.send_text("o_u", "确认")
        await pick(follower, "o_u", "看看法式碎花雪纺连衣裙", "红色 S")
        await follower.send_text("o_u", "1")  # a cart left behind

        open_database(shop_config.database.url, shop_config.var_dir)
        order = Order.get(Order.openid == "o_u")
        assert cancel_if_unpaid(order.order_no, clock.now())
        await follower.unfollow("o_u")

        kept = Order.get(Order.order_no == order.order_no)
        assert kept.openid == "o_u" and kept.payable_fen == order.payable_fen, "the record stays"
        assert kept.ship_name is None and kept.ship_phone is None and kept.ship_detail is None
        assert Address.select().where(Address.openid == "o_u").count() == 0
        assert "购物车是空的" in (await follower.send_text("o_u", "购物车")).shown


async def test_an_unfollow_leaves_no_redis_key_of_the_follower(shop_config: Config) -> None:  # noqa: F811
    """Every per-follower key is named in store.core.keys; unsubscribe deletes them all (the retry memory of the
    unfollow event itself aside: it holds no data and expires within minutes)."""
    from bot.web.runtime import RESOURCES
    from store.core.keys import PERSONAL

    async with running(shop_config) as shop:
        follower = shop.follower()
        resources = shop.app[RESOURCES]
        await follower.follow("o_k")
        await pick(follower, "o_k", "看看法式碎花雪纺连衣裙", "白色 M")
        await follower.send_text("o_k", "1")  # a cart
        await follower.send_text("o_k", "结算")  # a flow waiting for the address
        resources.redis.set(resources.key.greeting("o_k"), "1", ex=3600)  # what the birthday sweep leaves
        resources.redis.set(resources.key.human("o_k"), "1", ex=3600)
        resources.redis.set(resources.key.default_reply("o_k"), "1", ex=3600)

        def keys_of(openid: str) -> set[str]:
            found = {k.decode() for k in resources.redis.scan_iter(match=f"{resources.key.prefix}*{openid}*")}
            return {k for k in found if not k.startswith(resources.key("dedup", ""))}

        before = keys_of("o_k")
        assert {resources.key(kind, "o_k") for kind in PERSONAL} <= before, before
        await follower.unfollow("o_k")
        assert keys_of("o_k") == set()


async def test_a_chinese_quantity_is_read_and_an_unusual_one_asked_back(shop_config: Config) -> None:  # noqa: F811
    async with running(shop_config) as shop:
        follower = shop.follower()
        await pick(follower, "o_q", "看看法式碎花雪纺连衣裙", "红色 M")
        too_many = await follower.send_text("o_q", "一百")
        assert "一次最多买99件" in too_many.shown and "购物车" not in too_many.shown, "never a silent 1"
        assert "库存只剩42件" in (await follower.send_text("o_q", "五十")).shown
        asked = await follower.send_text("o_q", "三十件")
        assert "您要买30件吗" in asked.shown
        cart = await follower.send_text("o_q", "是")
        assert "已加入购物车" in cart.shown and "×30" in cart.shown, cart.shown


async def test_two_in_chinese_goes_straight_in(shop_config: Config) -> None:  # noqa: F811
    async with running(shop_config) as shop:
        follower = shop.follower()
        await pick(follower, "o_q2", "看看法式碎花雪纺连衣裙", "红色 M")
        cart = await follower.send_text("o_q2", "两件")
        assert "已加入购物车" in cart.shown and "×2 ¥318" in cart.shown, cart.shown
        await pick(follower, "o_q3", "看看法式碎花雪纺连衣裙", "红色 M")
        changed = await follower.send_text("o_q3", "二十五")
        assert "您要买25件吗" in changed.shown
        cart = await follower.send_text("o_q3", "3")
        assert "已加入购物车" in cart.shown and "×3 " in cart.shown, "a new count replaces the one asked about"


async def test_a_product_with_one_sku_goes_straight_to_the_quantity(shop_config: Config) -> None:  # noqa: F811
    async with running(shop_config) as shop:
        follower = shop.follower()
        await follower.send_text("o_one", "颈椎按摩器")
        card = await follower.send_text("o_one", "1")
        assert card.reply["MsgType"] == "news", "the card, with the quantity question after it (not a spec list)"
        cart = await follower.send_text("o_one", "2")
        assert "已加入购物车" in cart.shown and "×2" in cart.shown, cart.shown


async def test_continue_shopping_is_understood_after_the_flow_gave_up(shop_config: Config) -> None:  # noqa: F811
    async with running(shop_config) as shop:
        follower = shop.follower()
        for openid, text in (("o_g1", "继续逛"), ("o_g2", "继续购物")):
            await pick(follower, openid, "看看法式碎花雪纺连衣裙", "红色 M")
            await follower.send_text(openid, "1")
            for unclear in ("啊啊", "哦哦", "嗯嗯嗯"):
                quit_ = await follower.send_text(openid, unclear)
            assert "已退出“结算”" in quit_.shown
            assert "请选择分类" in (await follower.send_text(openid, text)).shown, text
