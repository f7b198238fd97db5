"""Tier benefits that act, over signed HTTP: 专属客服 — a VIP's or 黑金's 转人工 goes to their tier's own
customer-service account (`KfAccount`), everyone else's to the shared queue; 优先购权 — during a product's
early-access window only the named tier and above may buy it, in chat and on the pay page."""

from __future__ import annotations

from datetime import timedelta

from bot.process.config import Config
from store.catalog.products import Product, Sku, set_early_access
from store.core.clock import ManualClock
from store.core.db import close_database, open_database, write_transaction
from store.members.accounts import Member, ensure_member
from store.orders.checkout import CartLine, Order, create_order
from tests.gateway_support import running
from tests.member_support import START, follower, pay
from tests.order_support import BUYER, HOME, RULES
from tests.pay_support import pay_world
from tests.test_browse_chat import shop_config  # noqa: F401 - the fixture with the test catalog imported
from tests.test_checkout_chat import ADDRESS, pick
from tests.test_engine import TOKEN, with_admin

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_no_accounts_configured_means_the_shared_queue_for_everyone(migrated: Config) -> None:
    open_database(migrated.database.url, migrated.var_dir)
    try:
        follower("o_vip", START)
        ensure_member("o_vip", START)
        with write_transaction():
            Member.update(tier="vip").where(Member.openid == "o_vip").execute()
    finally:
        close_database()
    async with running(migrated, ManualClock(START)) as shop:
        handed = await shop.follower().send_text("o_vip", "转人工")
        assert handed.reply["MsgType"] == "transfer_customer_service" and "TransInfo" not in handed.reply


async def test_early_access_in_chat_refuses_lower_tiers_until_the_window_ends(shop_config: Config) -> None:  # noqa: F811
    """优先购权 over signed HTTP: the operator opens a 黑金 window on a product (admin API); a 普通 member's
    confirmation is refused with the reason, a 黑金 member's goes through; after the window anyone may buy."""
    clock = ManualClock(START)
    config = with_admin(shop_config)
    async with running(config, clock) as shop:
        open_database(config.database.url, config.var_dir)
        code = Product.get(Product.title.contains("法式碎花雪纺连衣裙")).code
        until = clock.now() + timedelta(days=1)
        response = await shop.session.put(shop.server.make_url(f"/admin/api/products/{code}/early-access"),
                                          headers=AUTH, json={"tier": "black_gold", "until": until.isoformat()})
        assert response.status == 200, await response.text()
        assert (await response.json())["early_access"]["tier"] == "black_gold"
        bad = await shop.session.put(shop.server.make_url(f"/admin/api/products/{code}/early-access"),
                                     headers=AUTH, json={"tier": "gold"})  # fmt: skip
        assert bad.status == 422

        chat = shop.follower()
        refused = await buy(chat, "o_normal")
        assert f"{until:%m月%d日 %H:%M}前仅限黑金会员及以上优先购买" in refused.shown, refused.shown
        assert Order.select().where(Order.openid == "o_normal").count() == 0

        pay("o_black", 5_000_000, "big", clock.now() - timedelta(days=30))  # 50,000 yuan this year: 黑金
        bought = await buy(chat, "o_black")
        assert bought.reply["MsgType"] == "news", bought.shown
        assert Order.select().where(Order.openid == "o_black").count() == 1

        clock.advance(days=1, minutes=1)
        later = await buy(chat, "o_normal")
        assert later.reply["MsgType"] == "news", later.shown


async def buy(chat, openid: str):  # type: ignore[no-untyped-def]
    await pick(chat, openid, "看看法式碎花雪纺连衣裙", "红色 M")
    await chat.send_text(openid, "1件")
    await chat.send_text(openid, "结算")
    address = await chat.send_text(openid, ADDRESS)
    if "寄到上次的地址吗" in address.shown:
        await chat.send_text(openid, "是")
    return await chat.send_text(openid, "确认")


async def test_the_pay_page_refuses_an_order_caught_by_a_new_early_access_window(migrated: Config) -> None:
    async with pay_world(migrated) as world:
        world.sandbox.world.follow(BUYER)
        order = create_order(BUYER, [CartLine(world.shop.dress, 1)], HOME, [], 0, world.clock.now(), rules=RULES)
        product = Sku.get_by_id(world.shop.dress).product_id
        set_early_access(product, "vip", world.clock.now() + timedelta(hours=2))
        page = await world.open_pay_link(order.order_no, BUYER)
        text = await page.text()
        assert page.status == 403 and "会员优先购" in text and "仅限VIP会员及以上优先购买" in text
        assert order.order_no not in world.sandbox.pay.ledger.orders
        set_early_access(product, None, None)
        assert (await world.open_pay_link(order.order_no, BUYER)).status == 200
