"""The chat preview in a real browser: Playwright driving Debian's Chromium against the demo assembly.

A follower is created, follows, taps the menu (and a sub-menu), types, sees the replies; a customer-service
message, a template notice and a news card arrive live; the news card opens a pay page in the in-page browser,
where the WeixinJSBridge shim pays through the pay emulator. Then the whole purchase on the demo shop: search,
pick a product and its SKU, check out, open the pay link, pay, see the paid notice. Set
WXSHOP_PREVIEW_SCREENSHOT=PATH to keep a screenshot of the chat (the README's picture is taken this way).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from wechatpy.pay import WeChatPay

from bot.process.config import Config
from bot.sandbox.demo_seed import seed_demo_shop
from store.core.clock import CLOCK_ENV, ManualClock, clock_spec
from store.core.db import close_database, open_database
from tests.preview_support import Demo, demo_running, with_default_menu
from tests.support import wxshop

async_api = pytest.importorskip("playwright.async_api", reason="the test extra (playwright) is not installed")
Page = async_api.Page
expect = async_api.expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = '<b>粗体</b><img src=x onerror="window.__xss=1">'

# A pay page written as for WeChat's browser: it knows nothing of the sandbox (the preview injects the shim).
PAY_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>收银台</title></head><body>
<p>法式碎花连衣裙 M · ¥199.00</p><button id="pay">立即支付</button><p id="result"></p>
<script>
const params = %s;
function onBridgeReady() {
  document.getElementById("pay").onclick = () => WeixinJSBridge.invoke("getBrandWCPayRequest", params,
    (res) => { document.getElementById("result").textContent = res.err_msg; });
  document.body.dataset.bridge = "ready";
}
if (typeof WeixinJSBridge == "undefined") document.addEventListener("WeixinJSBridgeReady", onBridgeReady, false);
else onBridgeReady();
</script></body></html>"""


def pay_client(demo: Demo) -> WeChatPay:
    config = demo.config
    wxpay = WeChatPay(config.wechat.app_id, config.pay.api_key, config.pay.mch_id, timeout=10)
    wxpay.API_BASE_URL = f"{config.pay.api_base_url}/"
    return wxpay


def pay_page_route(wxpay_for: list[WeChatPay]) -> web.RouteDef:
    async def page(request: web.Request) -> web.Response:
        params = wxpay_for[0].jsapi.get_jsapi_params(request.match_info["prepay_id"])
        return web.Response(text=PAY_PAGE % json.dumps(params), content_type="text/html")

    return web.get("/test-pay/{prepay_id}", page)


def need_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not at /usr/bin/chromium (apt-get install chromium); CI installs it")


async def test_follow_tap_type_and_see_live_messages_in_chromium(migrated: Config) -> None:
    need_chromium()
    wxpay_for: list[WeChatPay] = []
    async with demo_running(with_default_menu(migrated), extra_routes=[pay_page_route(wxpay_for)]) as demo:
        wxpay_for.append(pay_client(demo))
        async with async_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 760, "height": 800})
                page.set_default_timeout(15000)
                expect.set_options(timeout=15000)
                await walk(page, demo)
            finally:
                await browser.close()


async def walk(page: Page, demo: Demo) -> None:
    account = page.locator(".entry[data-from=account]")
    await page.goto(f"{demo.base}/sandbox/")
    await page.wait_for_selector("body[data-ready=true]")
    assert await page.locator("#account-name").text_content() == demo.config.shop.name
    assert await page.locator("#menu .menu-item").all_text_contents() == ["逛商城", "我的", "服务"]

    await page.click("#new-follower")
    await page.wait_for_selector("#follow-cta", state="visible")
    await expect(page.locator("#follower-select")).to_have_value(re.compile(r"^o_demo_"))
    openid = await page.input_value("#follower-select")
    assert openid.startswith("o_demo_")
    await page.click("#follow-cta")
    await page.locator(".entry[data-channel=reply]", has_text="欢迎").wait_for()
    assert demo.sandbox.world.is_following(openid)
    assert await page.locator("#fact-status").text_content() == "已关注"

    await page.click("#menu .menu-item >> text=逛商城")
    await page.locator(".notice", has_text="点击菜单 逛商城").wait_for()
    await expect(account).to_have_count(2)
    await page.click("#menu .menu-item >> text=我的")
    await page.click("#submenu >> text=我的订单")
    await page.locator(".notice", has_text="点击菜单 我的订单").wait_for()
    await expect(account).to_have_count(3)

    await page.click("#to-keyboard")
    await page.fill("#message", HOSTILE)
    await page.click("#send")
    mine = page.locator(".entry[data-from=follower][data-kind=text] .bubble")
    await mine.last.wait_for()
    assert await mine.last.text_content() == HOSTILE, "typed text is shown as text"
    await expect(account).to_have_count(4)
    assert await page.locator("#chat b, #chat img[src=x]").count() == 0
    assert await page.evaluate("window.__xss") is None

    await demo.send_custom_text(openid, "您的新人礼包已到账：满199减30券，24小时内有效。")
    await page.locator(".entry[data-channel=custom]", has_text="新人礼包已到账").wait_for()
    gateway = demo.gateway()
    try:
        data = {"订单号": {"value": "W202611240001"}, "快递公司": {"value": "顺丰速运"},
                "运单号": {"value": "SF1234567890"}}
        await asyncio.to_thread(gateway.send_template, openid, "TPL_SHIPPED", data, f"{demo.base}/healthz")
        notice = page.locator(".entry[data-channel=template]")
        await notice.wait_for()
        assert await notice.locator("dd").all_text_contents() == ["W202611240001", "顺丰速运", "SF1234567890"]

        now = demo.clock.now()
        created = await asyncio.to_thread(
            pay_client(demo).order.create, trade_type="JSAPI", body="法式碎花连衣裙 M", total_fee=19900,
            notify_url=f"{demo.base}/pay/notify", client_ip="127.0.0.1", user_id=openid, out_trade_no="PB0001",
            time_start=now, time_expire=now + timedelta(minutes=30),
        )
        await asyncio.to_thread(gateway.send_article, openid, "法式碎花连衣裙 ¥199", "春夏新款，点此付款",
                                f"{demo.base}/test-pay/{created['prepay_id']}", "")
    finally:
        gateway.close()
    card = page.locator(".entry[data-kind=news] .news")
    await card.wait_for()
    if os.environ.get("WXSHOP_PREVIEW_SCREENSHOT"):
        await page.screenshot(path=os.environ["WXSHOP_PREVIEW_SCREENSHOT"])

    await card.click()
    await page.wait_for_selector("#browser", state="visible")
    shop_page = page.frame_locator("#browser-frame")
    await shop_page.locator("body[data-bridge=ready]").wait_for()
    assert await page.locator("#browser-title").text_content() == "收银台"
    await shop_page.locator("#pay").click()
    await shop_page.locator("#wxshop-pay-sheet", has_text="¥199.00").wait_for()
    await shop_page.locator("#wxshop-pay-confirm").click()
    await shop_page.locator("#result", has_text="get_brand_wcpay_request:ok").wait_for()
    order = demo.sandbox.pay.order("PB0001")
    assert order.paid and order.openid == openid
    await page.click("#browser-close")
    await page.locator("#fact-allowance", has_text="不限").wait_for()


async def test_search_buy_and_pay_on_the_demo_shop(migrated: Config, env: dict[str, str]) -> None:
    need_chromium()
    clock = ManualClock()
    open_database(migrated.database.url, migrated.var_dir)
    try:
        seed_demo_shop(clock.now())
    finally:
        close_database()
    async with demo_running(with_default_menu(migrated), clock) as demo, async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 760, "height": 800})
            page.set_default_timeout(15000)
            expect.set_options(timeout=15000)
            await buy_and_pay(page, demo, env)
        finally:
            await browser.close()


async def buy_and_pay(page: Page, demo: Demo, env: dict[str, str]) -> None:
    account = page.locator(".entry[data-from=account]")

    async def answer_to(action: Awaitable[None], wanted: str | re.Pattern[str]) -> str:
        """Do something in the chat; the text of the new account entry that says `wanted` (others may come too)."""
        saying = account.filter(has_text=wanted)
        before = await saying.count()
        await action
        try:
            await saying.nth(before).wait_for()
        except async_api.TimeoutError:
            chat = "\n---\n".join(await page.locator(".entry").all_inner_texts())
            raise AssertionError(f"no new reply saying {wanted!r}; the chat:\n{chat}") from None
        return await saying.nth(before).inner_text()

    async def say(text: str, wanted: str | re.Pattern[str]) -> str:
        await page.fill("#message", text)
        return await answer_to(page.click("#send"), wanted)

    await page.goto(f"{demo.base}/sandbox/")
    await page.wait_for_selector("body[data-ready=true]")
    await page.click("#new-follower")
    await expect(page.locator("#follower-select")).to_have_value(re.compile(r"^o_demo_"))
    openid = await page.input_value("#follower-select")
    await answer_to(page.click("#follow-cta"), "新人礼包")
    await page.click("#menu .menu-item >> text=我的")
    await answer_to(page.click("#submenu >> text=我的订单"), "订单")
    await page.click("#to-keyboard")

    found = await say("连衣裙", "法式碎花雪纺连衣裙")
    choice = next(line for line in found.splitlines() if "法式碎花雪纺连衣裙" in line).strip().split(".")[0]
    await say(choice, "可选规格")
    await say("红色 M", "数量")
    await say("1", "结算")
    await say("结算", "收货")
    summary = await say("张三 13812345678 上海市黄浦区人民大道100号", re.compile("应付|优惠券"))
    if "应付" not in summary:  # the new-follower gift offers a coupon first: use it
        summary = await say("1", "应付")
    due = re.search(r"应付 ¥(\d+\.\d\d)", summary)
    assert due, summary
    pay_card = await say("确认", "待支付")
    order_no = re.search(r"订单号\s*(\d+)", pay_card)
    assert order_no, pay_card

    await page.locator(".entry[data-kind=news] .news").last.click()
    shop_page = page.frame_locator("#browser-frame")
    await shop_page.locator("#wxshop-pay-sheet", has_text=f"¥{due[1]}").wait_for()
    await shop_page.locator("#wxshop-pay-confirm").click()
    await shop_page.locator("body", has_text="正在确认").wait_for()
    paid = demo.sandbox.pay.order(order_no[1])
    assert paid.paid and paid.openid == openid and paid.total_fee == round(float(due[1]) * 100)
    await demo.sandbox.pay.deliver_due()  # WeChat Pay's notice to the shop (the demo sends it in the background)
    await shop_page.locator("body", has_text="支付成功").wait_for()

    sandbox_url = demo.config.wechat.api_base_url
    worker_env = {**env, "WXSHOP_WECHAT__API_BASE_URL": sandbox_url, "WXSHOP_PAY__API_BASE_URL": sandbox_url,
                  "WXSHOP_LOGISTICS__API_BASE_URL": sandbox_url, "WXSHOP_SERVER__PUBLIC_URL": demo.base,
                  CLOCK_ENV: clock_spec(demo.clock)}  # the worker decides by the demo's time, not the wall's
    done = await asyncio.to_thread(wxshop, "worker", "--burst", env=worker_env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    await page.click("#browser-close")
    try:
        await page.locator(".entry[data-channel=custom]", has_text="支付成功").wait_for()
    except async_api.TimeoutError:
        chat = "\n---\n".join(await page.locator(".entry").all_inner_texts())
        worker = done.stdout + done.stderr
        raise AssertionError(f"no paid notice; the worker said:\n{worker}\nthe chat:\n{chat}") from None
