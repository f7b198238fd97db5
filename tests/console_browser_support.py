"""A signed-in console page in Debian's Chromium (Playwright), and the checks every page of the console must pass:
no English key, no raw JSON, times to the minute."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.console_support import PASSWORD, USER
from tests.test_preview_browser import CHROMIUM, CHROMIUM_ARGS, need_chromium

async_api = pytest.importorskip("playwright.async_api", reason="the test extra (playwright) is not installed")
expect = async_api.expect

# an API key or code shown raw (orders_paid, dispute); openid and the example URLs' words are allowed
ENGLISH_KEY = re.compile(r"\b[a-z]+_[a-z_]+\b|\b(?!openid\b|https\b|shop\b|example\b)[a-z]{3,}\b")
RAW_TIME = re.compile(r"\d\d:\d\d:\d\d|T\d\d:\d\d")  # seconds or an ISO "T": times show to the minute


@dataclass
class ConsolePage:
    page: Any  # playwright.async_api.Page
    base: str
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    async def open(self, view: str) -> None:
        """Click the view's menu entry and wait for it to load."""
        await self.page.click(f"#nav a[data-view={view}]")
        await self.ready(view)

    async def ready(self, view: str) -> None:
        await self.page.wait_for_selector(f"body[data-view={view}][data-ready=true]")

    async def flash(self, text: str) -> None:
        await expect(self.page.locator("#flash")).to_contain_text(text)

    async def assert_readable(self, *allowed: str) -> str:
        """The main area's text, checked: no English key, no JSON, no `[object`, times to the minute."""
        text = await self.page.locator("main").inner_text()
        for word in allowed:
            text = text.replace(word, "")
        assert not ENGLISH_KEY.findall(text), ENGLISH_KEY.findall(text)
        assert '{"' not in text and "[object" not in text, text
        assert not RAW_TIME.search(text), RAW_TIME.search(text)
        assert await self.page.locator("main .error").count() == 0, text
        return text


async def keep_screenshot(page: Any, name: str) -> None:
    """With WXSHOP_CONSOLE_SCREENSHOTS=DIR, keep a picture of the page as DIR/name.png (README's pictures of the
    console are taken this way)."""
    folder = os.environ.get("WXSHOP_CONSOLE_SCREENSHOTS")
    if folder:
        await page.screenshot(path=os.path.join(folder, f"{name}.png"))


@asynccontextmanager
async def signed_in(base: str, username: str = USER, password: str = PASSWORD) -> AsyncIterator[ConsolePage]:
    """Chromium signed in to the console at `base` (the shop's URL), showing the dashboard; every dialog is
    accepted and noted; at the end, no script error may have happened."""
    need_chromium()
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15000)
            expect.set_options(timeout=15000)
            console = ConsolePage(page, base)
            page.on("pageerror", lambda exc: console.errors.append(str(exc)))

            async def accept(dialog: Any) -> None:
                console.dialogs.append(dialog.message)
                await dialog.accept()

            page.on("dialog", accept)
            await page.goto(f"{base}/admin/login")
            await page.fill("input[name=username]", username)
            await page.fill("input[name=password]", password)
            await page.click("#login")
            await page.wait_for_url("**/admin/")
            await console.ready("dashboard")
            yield console
            assert console.errors == []
        finally:
            await browser.close()
