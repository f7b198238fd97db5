"""The dashboard's alerts list in a real browser: a firing payment-success alert and a cleared cancellation alert,
raised by the checks the worker runs, shown in words (firing first, in red), with the complaint chart's alert line
at `[shop] complaint_alert_rate`."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from bot.process.config import Config
from store.core.clock import SHANGHAI
from store.core.db import close_database, open_database
from store.monitoring.alerts import check_live
from store.monitoring.figures import MetricRules
from store.monitoring.watch import Reading, observe
from tests.console_support import PASSWORD, USER, console_running, create_user, with_token
from tests.order_support import make_shop
from tests.test_admin_console_browser import ALERT_LINE
from tests.test_monitoring_alerts import orders
from tests.test_preview_browser import CHROMIUM, CHROMIUM_ARGS, need_chromium

async_api = pytest.importorskip("playwright.async_api", reason="the test extra (playwright) is not installed")
expect = async_api.expect
TEN = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)


def seed_alerts(config: Config) -> None:
    rules = MetricRules.from_settings(dataclasses.replace(config.shop, operator_openids=("o_boss",)))
    open_database(config.database.url, config.var_dir)
    try:
        cancelled = Reading("cancellation", 0.2, 0.08, "max", 10, True, "2026-11-22", "订单取消率20%超过8%")
        observe(cancelled, TEN - timedelta(days=2), rules.operators)
        observe(dataclasses.replace(cancelled, value=0.01, breached=False), TEN - timedelta(days=1), rules.operators)
        orders(make_shop().tee, TEN, 20, paid=10)
        assert check_live(TEN + timedelta(minutes=40), rules)["change"] == "raised"
    finally:
        close_database()


async def test_the_dashboard_lists_firing_alerts_first(migrated: Config, env: dict[str, str]) -> None:
    need_chromium()
    create_user(env)
    seed_alerts(migrated)
    async with console_running(with_token(migrated)) as console, async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(console.url("/admin/login"))
            await page.fill("input[name=username]", USER)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#login")
            await page.wait_for_selector("body[data-view=dashboard][data-ready=true]")
            items = page.locator("#alerts li")
            await expect(items).to_have_count(2)
            await expect(items.nth(0)).to_have_class("firing")
            await expect(items.nth(0)).to_have_text(
                "支付成功率：支付成功率50%低于90%（自 2026-11-24 10:40 起，进行中，已通知 1 位运营）")
            await expect(items.nth(1)).to_have_class("cleared")
            await expect(items.nth(1)).to_have_text(
                "订单取消率：订单取消率20%超过8%（自 2026-11-22 10:00 起，已于 2026-11-23 10:00 恢复）")
            assert await page.evaluate(ALERT_LINE, "chart-complaint") == 2, "[shop] complaint_alert_rate"
            assert errors == []
        finally:
            await browser.close()
