"""The chat preview in a real browser: Playwright driving Debian's Chromium against the demo assembly.

A follower is created, follows, taps the menu (and a sub-menu), types, sees the replies; a customer-service
message, a template notice and a news card arrive live; the news card opens a pay page in the in-page browser,
where the WeixinJSBridge shim pays through the pay emulator. Set WXSHOP_PREVIEW_SCREENSHOT=PATH to keep a
screenshot of the chat (the README's picture is taken this way).
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from wechatpy.pay import WeChatPay

from bot.config import Config
from tests.preview_support import Demo, demo_running, with_default_menu

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


async def test_follow_tap_type_and_see_live_messages_in_chromium(migrated: Config) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not at /usr/bin/chromium (apt-get install chromium); CI installs it")
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
