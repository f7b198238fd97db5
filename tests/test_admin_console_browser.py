"""The console in a real browser: Playwright driving Debian's Chromium signs in, sees the seeded order in the Orders
list (its hostile title shown as text), ships it from the order's page, looks the buyer up among the members, and
every section loads without an error."""

from __future__ import annotations

import logging

import pytest

from bot.process.config import Config
from store.catalog.products import Product
from store.core.db import close_database, open_database
from store.orders.checkout import SHIPPED, Order
from store.outbox.notices import IN_DOUBT, PENDING
from tests.console_support import PASSWORD, USER, console_running, create_user, with_token
from tests.logistics_support import paid_order
from tests.order_support import BUYER, make_shop
from tests.outbox_support import outbox_config, outbox_rig, queue
from tests.test_preview_browser import CHROMIUM, CHROMIUM_ARGS, need_chromium

async_api = pytest.importorskip("playwright.async_api", reason="the test extra (playwright) is not installed")
expect = async_api.expect

HOSTILE = '连衣裙<img src=x onerror="window.__xss=1">'


def seed_hostile_order(config: Config) -> str:
    open_database(config.database.url, config.var_dir)
    try:
        shop = make_shop()
        Product.update(title=HOSTILE).where(Product.code == "P1").execute()
        return paid_order(shop, BUYER).order_no
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
            assert await page.locator("#metrics, .not-available").count() == 1

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

            for view in ("products", "keywords", "after-sales", "members", "outbox", "dashboard"):
                await page.click(f"#nav a[data-view={view}]")
                await page.wait_for_selector(f"body[data-view={view}][data-ready=true]")
                assert await page.locator("main .error").count() == 0, await page.locator("main").inner_text()
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
                await expect(page.locator("main .in-doubt")).to_contain_text("待确认（in doubt）：1 条")
                await page.click("main .in-doubt a")
                await page.wait_for_url("**#outbox?status=in_doubt")
                await page.wait_for_selector("body[data-view=outbox][data-ready=true]")
                await expect(page.locator("main .table-wrap tr[data-key]")).to_have_count(1)
                with caplog.at_level(logging.INFO, logger="wxshop.admin"):
                    await page.click(f"main .table-wrap tr[data-key='{notice}'] button:has-text('重试')")
                    await expect(page.locator("#flash")).to_contain_text(f"消息 {notice} 已重新排队")
                await expect(page.locator("main .in-doubt")).to_contain_text("待确认（in doubt）：0 条")
                assert errors == [] and len(confirms) == 1 and "可能已送达" in confirms[0]
            finally:
                await browser.close()
        assert rig.notice(notice).status == PENDING
        [line] = [r for r in caplog.records if r.getMessage() == "operator queued a notice again"]
        assert (line.notice_id, line.operator) == (notice, f"console:{USER}")  # type: ignore[attr-defined]
