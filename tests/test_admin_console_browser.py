"""The console in a real browser: Playwright driving Debian's Chromium signs in, sees the seeded order in the Orders
list (its hostile title shown as text), ships it from the order's page, looks the buyer up among the members, and
every section loads without an error."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta

import pytest

from bot.process.config import Config
from store.catalog.products import Product
from store.core.db import close_database, open_database
from store.orders.checkout import SHIPPED, Order
from store.outbox.notices import IN_DOUBT, PENDING
from tests.console_browser_support import ENGLISH_KEY, RAW_TIME, keep_screenshot
from tests.console_support import PASSWORD, USER, console_running, create_user, with_token
from tests.logistics_support import START, paid_order
from tests.order_support import BUYER, make_shop
from tests.outbox_support import outbox_config, outbox_rig, queue
from tests.pay_support import pay_world
from tests.test_preview_browser import CHROMIUM, CHROMIUM_ARGS, need_chromium

async_api = pytest.importorskip("playwright.async_api", reason="the test extra (playwright) is not installed")
expect = async_api.expect

RULES = """[[rules]]
name = "双十一"
keywords = ["双十一"]
match = "contains"
reply_mode = "all"
reply = ["活动详情见图文", {type = "news", title = "双十一会场", description = "全场五折", url = "https://shop.example/1111"}]
"""
CONFIG_MENU = (
    {"name": "逛商城", "type": "click", "key": "BROWSE"},
    {"name": "我的", "sub_button": [{"name": "我的订单", "type": "click", "key": "MY_ORDERS"},
                                   {"name": "官网", "type": "view", "url": "https://shop.example/"}]},
)  # fmt: skip
HOSTILE = '连衣裙<img src=x onerror="window.__xss=1">'


SERIES = """id => window.echarts.getInstanceByDom(document.getElementById(id)).getOption().series
  .map(s => s.data.map(d => (d !== null && typeof d === "object" ? d.value : d)))"""
ALERT_LINE = """id => window.echarts.getInstanceByDom(document.getElementById(id)).getOption()
  .series[0].markLine.data[0].yAxis"""


async def chart_series(page: async_api.Page, chart_id: str) -> list[list[float]]:
    """The values of each series the dashboard's chart was drawn with (funnel values in stage order)."""
    return await page.evaluate(SERIES, chart_id)


def seed_hostile_order(config: Config) -> str:
    open_database(config.database.url, config.var_dir)
    try:
        shop = make_shop()
        Product.update(title=HOSTILE).where(Product.code == "P1").execute()
        return paid_order(shop, BUYER, now=START - timedelta(hours=1)).order_no  # paid before the console's now
    finally:
        close_database()


async def test_sign_in_see_the_order_and_ship_it(migrated: Config, env: dict[str, str]) -> None:
    need_chromium()
    create_user(env)
    order_no = seed_hostile_order(migrated)
    async with console_running(with_token(migrated)) as console, async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15000)
            expect.set_options(timeout=15000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            await page.goto(console.url("/admin/"))  # no session: the login form
            assert page.url.endswith("/admin/login")
            await page.fill("input[name=username]", USER)
            await page.fill("input[name=password]", "wrong password")
            await page.click("#login")
            await expect(page.locator(".error")).to_contain_text("用户名或密码错误")
            await page.fill("input[name=username]", USER)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#login")
            await page.wait_for_url("**/admin/")
            await page.wait_for_selector("body[data-view=dashboard][data-ready=true]")
            await expect(page.locator("#user")).to_have_text(USER)
            gmv = await chart_series(page, "chart-gmv")
            assert gmv[0] == [159.0, 159.0, 159.0] and gmv[1] == [0, 0, 0], "this week's paid order, nothing before"
            assert await chart_series(page, "chart-funnel") == [[0, 0, 1]]
            assert await chart_series(page, "chart-aov") == [[0, 159.0]]
            assert await chart_series(page, "chart-payment") == [[100.0, 100.0]]
            assert await page.evaluate(ALERT_LINE, "chart-payment") == 90, "[shop] payment_success_alert_rate"
            assert await page.evaluate(ALERT_LINE, "chart-cancel") == 8, "[shop] cancellation_alert_rate"
            await keep_screenshot(page, "console-dashboard")
            assert await chart_series(page, "chart-gift") == [[None]], "no gift issued: no rate, not 0 %"
            assert await chart_series(page, "chart-complaint") == [[0]]
            await expect(page.locator("#alerts")).to_contain_text("暂无告警")
            await expect(page.locator("#chart-gmv canvas")).to_have_count(1)
            await expect(page.locator("#metrics")).to_contain_text("环比 无上期数据")

            await page.click("#nav a[data-view=orders]")
            await page.wait_for_selector("body[data-view=orders][data-ready=true]")
            row = page.locator(f"tr[data-key='{order_no}']")
            await expect(row).to_contain_text("已支付，待发货")
            await expect(row).to_contain_text("¥159.00")
            await expect(row).to_contain_text(HOSTILE)
            assert await page.locator("main img").count() == 0 and await page.evaluate("window.__xss") is None

            await row.locator("text=详情").click()
            await page.wait_for_selector("#ship-form")
            await page.fill("#ship-form input[name=carrier]", "yuantong")
            await page.fill("#ship-form input[name=tracking_no]", "YT1234567890")
            await page.click("#ship-form button")
            await expect(page.locator("#flash")).to_contain_text("已发货")
            await expect(page.locator("#ship-form")).to_have_count(0)
            await expect(page.locator("main")).to_contain_text("YT1234567890")

            await page.click("#nav a[data-view=members]")
            await page.wait_for_selector("body[data-view=members][data-ready=true]")
            await page.fill("main input[name=openid]", BUYER)
            await page.click("main form.inline button")
            await page.wait_for_selector("body[data-view=members][data-ready=true]")
            await expect(page.locator("main section.panel h3", has_text="优惠券")).to_have_count(1)
            await expect(page.locator("main")).to_contain_text(BUYER)
            assert "[object" not in await page.locator("main").inner_text(), "the lookup shows its panels"

            await page.click("#nav a[data-view=keywords]")
            await page.wait_for_selector("body[data-view=keywords][data-ready=true]")
            await expect(page.locator("main .empty")).to_contain_text("还没有关键词规则")
            await page.fill("main textarea[name=toml]", RULES)
            await page.click("main form:has(textarea) button")
            await expect(page.locator("#flash")).to_contain_text("已导入：新增 1")
            await page.wait_for_selector("body[data-view=keywords][data-ready=true]")
            card = page.locator("main .reply.news")
            await expect(card).to_contain_text("双十一会场")
            await expect(card).to_contain_text("全场五折")
            await expect(page.locator("main .reply.text").first).to_contain_text("活动详情见图文")
            await page.fill("main textarea[name=toml]", "[[rules]]\nname = 1")
            await page.click("main form:has(textarea) button")
            await expect(page.locator("#flash")).to_contain_text("操作未完成")
            assert await page.locator("main ul.problems li").count() >= 1
            banner = await page.locator("#flash").bounding_box()
            rules_table = await page.locator("main table").first.bounding_box()
            assert banner and rules_table, "the banner and the rules are shown"
            assert banner["y"] + banner["height"] <= rules_table["y"], "the banner covers the rules"

            for view in ("dashboard", "orders", "products", "keywords", "inbox", "after-sales", "members", "coupons",
                         "segments", "campaigns", "accounts", "audit", "outbox"):  # menu: with WeChat, below
                await page.click(f"#nav a[data-view={view}]")
                await page.wait_for_selector(f"body[data-view={view}][data-ready=true]")
                text = (await page.locator("main").inner_text()).replace(HOSTILE, "").replace(USER, "")
                assert await page.locator("main .error").count() == 0, text
                assert not ENGLISH_KEY.findall(text), (view, ENGLISH_KEY.findall(text))
                assert '{"' not in text and "[object" not in text, (view, text)
                assert not RAW_TIME.search(text), (view, RAW_TIME.search(text))
            assert "待发送" in text and "重试" not in text, "notices not failed offer no retry"
            await page.goto(console.url(f"/admin/#order/{order_no}"))
            await page.wait_for_selector("body[data-view=order][data-ready=true]")
            text = (await page.locator("main").inner_text()).replace(HOSTILE, "")
            assert not ENGLISH_KEY.search(text) and "[object" not in text and not RAW_TIME.search(text), text
            assert text.count("快递公司") == 1, "the carrier is shown once"
            assert errors == []

            await page.click("#logout")
            await page.wait_for_url("**/admin/login")
        finally:
            await browser.close()
    open_database(migrated.database.url, migrated.var_dir)
    try:
        assert Order.get(Order.order_no == order_no).status == SHIPPED
    finally:
        close_database()


async def test_the_outbox_page_counts_notices_in_doubt_and_an_operator_queues_one_again(
    migrated: Config, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    need_chromium()
    create_user(env)
    config = with_token(outbox_config(migrated))
    async with outbox_rig(config) as rig:
        rig.world.follow("o_cs")
        rig.clock.advance(minutes=2)
        rig.interact("o_cs", "payment")
        notice = queue("o_cs", "paid", rig.clock.now())
        rig.state.lose_answers("/cgi-bin/message/custom/send")  # it arrives; its answer does not
        await rig.drain()
        assert rig.notice(notice).status == IN_DOUBT
        async with console_running(config) as console, async_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(15000)
                expect.set_options(timeout=15000)
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                confirms: list[str] = []

                async def accept(dialog) -> None:  # type: ignore[no-untyped-def]
                    confirms.append(dialog.message)
                    await dialog.accept()

                page.on("dialog", accept)
                await page.goto(console.url("/admin/login"))
                await page.fill("input[name=username]", USER)
                await page.fill("input[name=password]", PASSWORD)
                await page.click("#login")
                await page.wait_for_url("**/admin/")
                await page.click("#nav a[data-view=outbox]")
                await page.wait_for_selector("body[data-view=outbox][data-ready=true]")
                await expect(page.locator("main .in-doubt")).to_contain_text("待确认：1 条")
                await page.click("main .in-doubt a")
                await page.wait_for_url("**#outbox?status=in_doubt")
                await page.wait_for_selector("body[data-view=outbox][data-ready=true]")
                await expect(page.locator("main .table-wrap tr[data-key]")).to_have_count(1)
                with caplog.at_level(logging.INFO, logger="wxshop.admin"):
                    await page.click(f"main .table-wrap tr[data-key='{notice}'] button:has-text('重试')")
                    await expect(page.locator("#flash")).to_contain_text(f"消息 {notice} 已重新排队")
                await expect(page.locator("main .in-doubt")).to_contain_text("待确认：0 条")
                assert errors == [] and len(confirms) == 1 and "可能已送达" in confirms[0]
            finally:
                await browser.close()
        assert rig.notice(notice).status == PENDING
        [line] = [r for r in caplog.records if r.getMessage() == "operator queued a notice again"]
        assert (line.notice_id, line.operator) == (notice, f"console:{USER}")  # type: ignore[attr-defined]


async def test_the_menu_editor_refuses_an_over_long_name_and_publishes_to_wechat(
    migrated: Config, env: dict[str, str]
) -> None:
    need_chromium()
    create_user(env)
    config = dataclasses.replace(migrated, menu=CONFIG_MENU)
    async with pay_world(config) as world, async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15000)
            expect.set_options(timeout=15000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{world.shop_url}/admin/login")
            await page.fill("input[name=username]", USER)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#login")
            await page.wait_for_url("**/admin/")
            await page.click("#nav a[data-view=menu]")
            await page.wait_for_selector("body[data-view=menu][data-ready=true]")
            assert world.sandbox.world.menu() is None
            await expect(page.locator("main")).to_contain_text("公众号还没有菜单")
            preview = page.locator("#menu-preview .phone-bar > .phone-button")
            await expect(preview).to_have_count(len(CONFIG_MENU))
            publish = page.locator("#menu-publish")
            await expect(page.locator("#menu-summary")).to_have_text("检查通过，可以发布")
            await expect(publish).to_be_enabled()
            await keep_screenshot(page, "console-menu")
            text = await page.locator("main").inner_text()
            assert not ENGLISH_KEY.findall(text.replace("click", "").replace("view", "")), ENGLISH_KEY.findall(text)

            first = page.locator("#menu-editor fieldset[data-index='0'] > .row input[name=name]")
            await first.fill("这是一个很长的菜单")  # 27 bytes: WeChat allows 16 on top
            problem = page.locator("#menu-editor [data-problem='0::name']")
            await expect(problem).to_contain_text("27 字节，超出微信上限 16 字节")
            await expect(publish).to_be_disabled()
            await expect(preview.first).to_contain_text("这是一个很长的菜单")

            await first.fill("上新")
            await expect(problem).to_have_text("")
            await expect(publish).to_be_enabled()
            await expect(preview.first).to_contain_text("上新")
            page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
            await publish.click()
            await expect(page.locator("#flash")).to_contain_text("菜单已发布")
            published = world.sandbox.world.menu()
            assert published is not None
            assert [b["name"] for b in published["button"]] == ["上新"] + [b["name"] for b in CONFIG_MENU[1:]]
            assert published["button"][0]["key"] == CONFIG_MENU[0]["key"]

            await page.reload()
            await page.wait_for_selector("body[data-view=menu][data-ready=true]")
            await expect(page.locator("main")).to_contain_text("当前是公众号正在使用的菜单")
            text = await page.locator("main").inner_text()
            assert not ENGLISH_KEY.findall(text), ENGLISH_KEY.findall(text)
            assert errors == []
        finally:
            await browser.close()
