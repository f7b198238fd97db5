"""The console's menu editor per tag, in Chromium: the tag selector opens 黑金会员's personalised menu (from
config.toml's [[menu.conditional]]), and 发布 sends it to WeChat with `menu/addconditional`."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from bot.process.config import Config
from tests.console_support import PASSWORD, USER, create_user
from tests.pay_support import pay_world
from tests.test_preview_browser import CHROMIUM, CHROMIUM_ARGS, need_chromium

async_api = pytest.importorskip("playwright.async_api", reason="the test extra (playwright) is not installed")
expect = async_api.expect

DEFAULT = ({"name": "逛商城", "type": "click", "key": "BROWSE"},)
PERKS = ({"name": "逛商城", "type": "click", "key": "BROWSE"},
         {"name": "黑金专享", "type": "click", "key": "BLACK_GOLD_PERKS"})  # fmt: skip


async def test_the_tag_selector_edits_and_publishes_a_tag_s_menu(migrated: Config, env: dict[str, str]) -> None:
    need_chromium()
    create_user(env)
    config = dataclasses.replace(migrated, menu=DEFAULT, tag_menus={"黑金会员": PERKS})
    async with pay_world(config) as world, async_api.async_playwright() as playwright:
        assert (await world.admin("POST", "/admin/api/tags/sync"))[0] == 200  # the tier tags exist on WeChat
        assert (await world.admin("POST", "/admin/api/menu", json={"button": list(DEFAULT)}))[0] == 200
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
            await page.wait_for_selector("body[data-view=dashboard][data-ready=true]")
            await page.click("#nav a[data-view=menu]")
            await page.wait_for_selector("body[data-view=menu][data-ready=true]")
            await expect(page.locator("main")).to_contain_text("当前是公众号正在使用的菜单")

            await page.select_option("#menu-tag", "黑金会员")
            await page.wait_for_url("**/admin/#menu?tag=*")
            await page.wait_for_selector("body[data-view=menu][data-ready=true]")
            await expect(page.locator("main")).to_contain_text("配置文件中这个标签的菜单")
            preview = page.locator("#menu-preview .phone-bar > .phone-button")
            await expect(preview).to_have_count(2)
            await expect(preview.nth(1)).to_contain_text("黑金专享")
            page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
            await page.locator("#menu-publish").click()
            await expect(page.locator("#flash")).to_contain_text("“黑金会员”个性化菜单已发布")
            [published] = world.sandbox.world.tags.menus()
            assert [b["name"] for b in published.button] == ["逛商城", "黑金专享"]
            assert world.sandbox.world.menu() == {"button": [{**DEFAULT[0], "sub_button": []}]}, "default untouched"

            await page.reload()
            await page.wait_for_selector("body[data-view=menu][data-ready=true]")
            await expect(page.locator("main")).to_contain_text("这个标签已发布的个性化菜单")
            await expect(page.locator("#menu-tag")).to_have_value("黑金会员")
            assert errors == []
        finally:
            await browser.close()
