"""The console's after-sales page in a real browser: an approved exchange is shipped again from its row (发出换货,
free of shipping, a parcel of its own) and a complaint is compensated with a recorded transfer (补偿), each shown
back in words; the page shows no raw keys."""

from __future__ import annotations

import pytest

from bot.process.config import Config
from store.after_sales.compensation import Compensation
from store.after_sales.reshipments import reshipment_of
from store.after_sales.tickets import AfterSalesRules, Ticket, approve, open_ticket
from store.core.db import close_database, open_database
from store.logistics.shipments import ship_order
from tests.console_support import PASSWORD, USER, console_running, create_user, with_token
from tests.logistics_support import START, paid_order
from tests.order_support import BUYER, make_shop
from tests.test_admin_console_browser import ENGLISH_KEY
from tests.test_preview_browser import CHROMIUM, CHROMIUM_ARGS, need_chromium

async_api = pytest.importorskip("playwright.async_api", reason="the test extra (playwright) is not installed")
expect = async_api.expect


def seed(config: Config) -> tuple[str, str]:
    """An approved exchange waiting for its reshipment, and an open complaint: their case numbers."""
    open_database(config.database.url, config.var_dir)
    try:
        shop, rules = make_shop(), AfterSalesRules()
        exchanged, complained = paid_order(shop, BUYER), paid_order(shop, BUYER)
        ship_order(exchanged.order_no, "yuantong", "YT1234567890", START)
        exchange = open_ticket(BUYER, exchanged.order_no, "exchange", "尺码不合适", [], START, rules)
        approve(exchange.case_no, START, rules, by="小王")
        complaint = open_ticket(BUYER, complained.order_no, "dispute", "发货太慢", [], START, rules)
        return exchange.case_no, complaint.case_no
    finally:
        close_database()


async def test_reship_an_exchange_and_compensate_a_complaint(migrated: Config, env: dict[str, str]) -> None:
    need_chromium()
    create_user(env)
    exchange, complaint = seed(migrated)
    async with console_running(with_token(migrated)) as console, async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15000)
            expect.set_options(timeout=15000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(console.url("/admin/login"))
            await page.fill("input[name=username]", USER)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#login")
            await page.wait_for_url("**/admin/")
            await page.click("#nav a[data-view=after-sales]")
            await page.wait_for_selector("body[data-view=after-sales][data-ready=true]")
            row = page.locator(f"tr[data-key='{exchange}']")
            await expect(row).to_contain_text("换货待发出")
            await row.locator("button:has-text('发出换货')").click()
            await page.fill("#reship-form input[name=carrier]", "shunfeng")
            await page.fill("#reship-form input[name=tracking_no]", "SF2000000001")
            await page.click("#reship-form button")
            await expect(page.locator("#flash")).to_contain_text("换货已发出：顺丰速运 SF2000000001")
            await page.wait_for_selector("body[data-view=after-sales][data-ready=true]")
            await expect(page.locator(f"tr[data-key='{exchange}']")).to_contain_text("换货已发出")
            await expect(page.locator(f"tr[data-key='{exchange}'] button:has-text('发出换货')")).to_have_count(0)

            await page.locator(f"tr[data-key='{complaint}'] button:has-text('补偿')").click()
            await page.select_option("#compensate-form select[name=method]", "transfer")
            await page.fill("#compensate-form input[name=amount]", "20")
            await page.fill("#compensate-form input[name=note]", "商家转账到零钱")
            await page.click("#compensate-form button")
            await expect(page.locator("#flash")).to_contain_text(f"{complaint}：已补偿 纠纷赔付¥20.00转账")
            await page.wait_for_selector("body[data-view=after-sales][data-ready=true]")
            text = await page.locator("main").inner_text()
            assert not ENGLISH_KEY.findall(text), ENGLISH_KEY.findall(text)
            assert errors == []
        finally:
            await browser.close()
    open_database(migrated.database.url, migrated.var_dir)
    try:
        parcel = reshipment_of(exchange)
        assert parcel is not None and (parcel.carrier, parcel.tracking_no) == ("shunfeng", "SF2000000001")
        assert Ticket.get(Ticket.case_no == exchange).status == "reshipped"
        paid = Compensation.get(Compensation.case_no == complaint)
        assert (paid.method, paid.amount_fen, paid.note, paid.granted_by) == ("transfer", 2000, "商家转账到零钱", USER)
    finally:
        close_database()
