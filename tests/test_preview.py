"""The chat preview's JSON API and live stream over HTTP, against the demo assembly (shop + preview + sandbox)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from wechatpy.pay import WeChatPay

from bot.process.config import Config
from bot.sandbox.ports import free_port
from bot.sandbox.preview import setup_preview
from bot.sandbox.server import build_sandbox
from bot.sandbox.world import Delivered
from bot.web.app import create_app
from store.core.clock import ManualClock
from tests.gateway_support import with_mode
from tests.preview_support import Demo, demo_running, with_default_menu

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>&amp;\"'"


@pytest.fixture
async def demo(migrated: Config) -> AsyncIterator[Demo]:
    async with demo_running(with_default_menu(migrated)) as running:
        yield running


async def read_entries(response: aiohttp.ClientResponse, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The next `count` entries of an open event stream (a deadline, not a sleep: it fails if they never come)."""
    found: list[dict[str, Any]] = []
    event_id = None
    async with asyncio.timeout(timeout):
        while len(found) < count:
            line = (await response.content.readline()).decode()
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                entry = json.loads(line[6:])
                assert entry["id"] == event_id
                found.append(entry)
    return found


async def open_stream(demo: Demo, query: str, headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    response = await demo.session.get(f"{demo.base}/sandbox/api/events?{query}", headers=headers or {})
    assert response.status == 200 and response.content_type == "text/event-stream"
    assert (await response.content.readline()).startswith(b"retry:")  # the stream is up: it is listening
    return response


async def test_page_and_assets_are_served_only_with_the_preview(demo: Demo, migrated: Config) -> None:
    async with demo.session.get(f"{demo.base}/sandbox/") as page:
        html = await page.text()
        assert page.status == 200 and page.content_type == "text/html"
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert '<script src="/sandbox/preview.js">' in html and "<script>" not in html, "no inline script"
    assets = {"preview.js": "text/javascript", "jsbridge.js": "text/javascript", "preview.css": "text/css"}
    for name, kind in assets.items():
        async with demo.session.get(f"{demo.base}/sandbox/{name}") as asset:
            assert asset.status == 200 and asset.content_type == kind, name
    async with demo.session.get(f"{demo.base}/sandbox", allow_redirects=False) as bare:
        assert bare.status == 302 and bare.headers["Location"] == "/sandbox/"
    async with demo.session.get(f"{demo.base}/sandbox/jsbridge.js") as bridge:
        script = await bridge.text()
        assert "getBrandWCPayRequest" in script and "/sandbox/api/pay/confirm" in script
        assert "WeixinJSBridgeReady" in script

    production = TestServer(create_app(migrated, clock=ManualClock()), host="127.0.0.1")
    await production.start_server()
    try:
        for path in ("/sandbox/", "/sandbox/api/state"):
            async with demo.session.get(production.make_url(path)) as response:
                assert response.status == 404, f"{path} must not exist in `serve`"
    finally:
        await production.close()


async def test_create_follow_chat_and_tap_the_menu(demo: Demo) -> None:
    status, state = await demo.call("GET", "state")
    assert status == 200 and state["followers"] == []
    assert state["shop"] == {"name": demo.config.shop.name, "original_id": demo.config.wechat.original_id,
                             "mode": "plain"}
    assert [b["name"] for b in state["menu"]] == ["逛商城", "我的", "服务"]
    assert state["menu"][1]["sub_button"][0] == {"name": "我的订单", "type": "click", "key": "MY_ORDERS"}

    status, created = await demo.call("POST", "followers", {})
    openid = created["follower"]["openid"]
    assert status == 201 and re.fullmatch(r"o_demo_[a-z0-9]{4}", openid)
    assert created["follower"] == {"openid": openid, "subscribed": False, "subscribe_time": None, "cs_allowance": 0}
    again_status, again = await demo.call("POST", "followers", {"openid": openid})
    assert again_status == 200 and again["follower"]["openid"] == openid

    followed = await demo.send(openid, "follow")
    mine, greeting = followed["entries"]
    assert mine == {**mine, "from": "follower", "kind": "event", "event": "subscribe"}
    assert greeting["from"] == "account" and greeting["channel"] == "reply" and greeting["kind"] == "text"
    assert "欢迎" in greeting["text"]
    assert followed["delivery"] == {"shown": greeting["text"], "failed": False, "error": "", "attempts": [200]}
    assert followed["follower"]["subscribed"] is True and followed["follower"]["cs_allowance"] == 3
    assert demo.sandbox.world.is_following(openid), "the follow went through the World"

    tapped = await demo.send(openid, "click", key="BROWSE")
    assert tapped["entries"][0]["text"] == "点击菜单 逛商城"
    assert tapped["entries"][1]["from"] == "account" and tapped["entries"][1]["kind"] in ("text", "news")
    typed = await demo.send(openid, "text", text="你好")
    assert typed["entries"][0] == {**typed["entries"][0], "from": "follower", "kind": "text", "text": "你好"}
    assert len(typed["entries"]) == 2 and typed["entries"][1]["from"] == "account"
    assert typed["follower"]["cs_allowance"] == 3 + 5, "a message opens the 5-in-48-hours window"
    kinds = [kind for kind, _ in demo.sandbox.world.interactions(openid)]
    assert kinds.count("message") == 1 and "click" in kinds and "subscribe" in kinds

    status, mine_state = await demo.call("GET", f"state?openid={openid}")
    history = mine_state["history"]
    assert [e["id"] for e in history] == sorted(e["id"] for e in history) and len(history) == 6
    assert history == followed["entries"] + tapped["entries"] + typed["entries"]
    status, later = await demo.call("GET", f"state?openid={openid}&after={history[3]['id']}")
    assert later["history"] == history[4:]
    assert [f["openid"] for f in later["followers"]] == [openid]


async def test_customer_service_and_template_messages_arrive_on_the_stream(demo: Demo) -> None:
    openid = await demo.new_follower()
    stream = await open_stream(demo, f"openid={openid}")
    try:
        await demo.send_custom_text(openid, "您的订单已发货，顺丰 SF1234567890")
        gateway = demo.gateway()
        try:
            data = {"first": {"value": "您好"}, "keyword1": {"value": "W202611240001"}, "keyword2": {"value": "已发货"}}
            await asyncio.to_thread(gateway.send_template, openid, "TPL_SHIPPED", data, "http://127.0.0.1/o/1")
        finally:
            gateway.close()
        custom, template = await read_entries(stream, 2)
    finally:
        stream.close()
    assert custom == {**custom, "openid": openid, "from": "account", "channel": "custom", "kind": "text",
                      "text": "您的订单已发货，顺丰 SF1234567890"}
    assert template["kind"] == "template" and template["channel"] == "template"
    assert template["fields"] == [{"key": "keyword1", "value": "W202611240001"}, {"key": "keyword2", "value": "已发货"}]
    assert template["url"] == "http://127.0.0.1/o/1" and template["title"] == "服务通知" and template["msgid"]

    # A browser that reconnects with Last-Event-ID gets what it missed, then live entries.
    resumed = await open_stream(demo, f"openid={openid}", {"Last-Event-ID": str(custom["id"])})
    try:
        (missed,) = await read_entries(resumed, 1)
        assert missed == template
        demo.sandbox.world.record_delivery(openid, Delivered("custom", {"msgtype": "news", "news": {"articles": [
            {"title": "碎花连衣裙", "description": "¥199", "url": "http://127.0.0.1/p/1", "picurl": ""}]}},
            demo.clock.now()))
        (news,) = await read_entries(resumed, 1)
    finally:
        resumed.close()
    assert news["kind"] == "news" and news["articles"] == [
        {"title": "碎花连衣裙", "description": "¥199", "picurl": "", "url": "http://127.0.0.1/p/1"}]


async def test_a_stream_only_carries_its_follower(demo: Demo) -> None:
    first, second = await demo.new_follower(), await demo.new_follower()
    stream = await open_stream(demo, f"openid={first}")
    everyone = await open_stream(demo, "")
    try:
        await demo.send_custom_text(second, "给第二位")
        await demo.send_custom_text(first, "给第一位")
        (only,) = await read_entries(stream, 1)
        both = await read_entries(everyone, 2)
    finally:
        stream.close()
        everyone.close()
    assert only["openid"] == first and only["text"] == "给第一位"
    assert [e["openid"] for e in both] == [second, first]


async def test_hostile_text_is_served_as_data(demo: Demo) -> None:
    openid = await demo.new_follower()
    sent = await demo.send(openid, "text", text=HOSTILE)
    assert sent["entries"][0]["text"] == HOSTILE
    demo.sandbox.world.record_delivery(
        openid, Delivered("template", {"template_id": HOSTILE, "data": {HOSTILE: {"value": HOSTILE}}},
                          demo.clock.now(), 7))
    async with demo.session.get(f"{demo.base}/sandbox/api/state?openid={openid}") as response:
        assert response.content_type == "application/json"
        body = await response.text()
    history = json.loads(body)["history"]
    assert history[2]["text"] == HOSTILE and history[-1]["fields"] == [{"key": HOSTILE, "value": HOSTILE}]
    async with demo.session.get(f"{demo.base}/sandbox/") as page:
        assert "alert(" not in await page.text(), "the page itself never carries data"


async def test_bad_requests_get_a_clear_error(demo: Demo) -> None:
    openid = await demo.new_follower(follow=False)
    cases: list[tuple[bytes | None, Any, int, str]] = [
        (b"{not json", None, 400, "request body must be a JSON object"),
        (b"[1, 2]", None, 400, "request body must be a JSON object"),
        (None, {"openid": "o_nobody", "kind": "text", "text": "在吗"}, 400, "unknown openid 'o_nobody'"),
        (None, {"openid": "o x<y>", "kind": "follow"}, 400, "openid must be 1-64 letters"),
        (None, {"openid": openid, "kind": "shout"}, 400, "kind must be one of"),
        (None, {"openid": openid, "kind": "text", "text": "在吗"}, 409, "does not follow the account"),
        (None, {"openid": openid, "kind": "follow", "mode": "safe"}, 400, "no EncodingAESKey"),
        (None, {"openid": openid, "kind": "follow", "mode": "loud"}, 400, "mode must be one of"),
    ]
    for raw, body, status, message in cases:
        got, answer = await demo.call("POST", "send", body, raw=raw)
        assert (got, message in answer.get("error", "")) == (status, True), (raw, body, answer)
    await demo.send(openid, "follow")
    for body in ({"openid": openid, "kind": "text", "text": "  "}, {"openid": openid, "kind": "click"}):
        got, answer = await demo.call("POST", "send", body)
        assert got == 400 and "must be a non-empty string" in answer["error"]
    got, answer = await demo.call("POST", "send", {"openid": openid, "kind": "location", "lat": "north"})
    assert got == 400 and answer["error"] == "lat and lng must be numbers"
    got, answer = await demo.call("POST", "followers", raw=b"oops")
    assert got == 400 and answer["error"] == "request body must be a JSON object"
    got, answer = await demo.call("GET", "state?openid=o_nobody")
    assert got == 400 and "unknown openid" in answer["error"]
    async with demo.session.get(f"{demo.base}/sandbox/api/events?openid=o_nobody") as response:
        assert response.status == 400 and "unknown openid" in (await response.json())["error"]


async def test_unfollow_closes_the_windows_and_the_chat(demo: Demo) -> None:
    openid = await demo.new_follower()
    left = await demo.send(openid, "unfollow")
    assert left["entries"][0]["event"] == "unsubscribe" and len(left["entries"]) == 1, "nothing to say"
    assert left["follower"]["subscribed"] is False and left["follower"]["cs_allowance"] == 0
    status, answer = await demo.call("POST", "send", {"openid": openid, "kind": "click", "key": "BROWSE"})
    assert status == 409 and "does not follow" in answer["error"]
    back = await demo.send(openid, "follow", scene="spring_poster")
    assert back["entries"][0]["text"] == "关注了公众号 （场景 spring_poster）"
    assert "欢迎回来" in back["entries"][1]["text"], "the shop knows a returning follower"


async def test_location_and_view_events(demo: Demo) -> None:
    openid = await demo.new_follower()
    located = await demo.send(openid, "location", label="广州市天河区", lat=23.13, lng=113.35)
    assert located["entries"][0] == {**located["entries"][0], "kind": "location", "text": "广州市天河区",
                                     "lat": 23.13, "lng": 113.35}
    assert located["entries"][1]["from"] == "account"
    viewed = await demo.send(openid, "view", url="http://127.0.0.1/shop")
    assert viewed["entries"] == [viewed["entries"][0]] and viewed["entries"][0]["event"] == "VIEW"
    assert viewed["delivery"]["failed"] is False


async def test_safe_and_compatible_modes_go_through_the_encrypted_callback(migrated: Config) -> None:
    async with demo_running(with_mode(with_default_menu(migrated), "safe")) as demo:
        status, state = await demo.call("GET", "state")
        assert status == 200 and state["shop"]["mode"] == "safe"
        openid = await demo.new_follower(follow=False)
        for mode in ("safe", "compatible"):
            followed = await demo.send(openid, "follow" if mode == "safe" else "text", text="你好", mode=mode)
            assert followed["delivery"]["failed"] is False, followed
            assert followed["entries"][-1]["from"] == "account"
        plain = await demo.send(openid, "text", text="你好", mode="plain")
        assert plain["delivery"]["failed"] is True and plain["delivery"]["attempts"] == [403], "safe: no plaintext"

    safe = with_mode(with_default_menu(migrated), "safe")
    compatible = dataclasses.replace(safe, wechat=dataclasses.replace(safe.wechat, mode="compatible"))
    async with demo_running(compatible) as demo:
        _, state = await demo.call("GET", "state")
        assert state["shop"]["mode"] == "compatible"
        openid = await demo.new_follower()
        for mode in (None, "plain"):
            sent = await demo.send(openid, "text", text="你好", **({"mode": mode} if mode else {}))
            assert sent["delivery"]["failed"] is False, (mode, sent)


async def test_pay_emulator_is_reachable_same_origin(demo: Demo) -> None:
    openid = await demo.new_follower()
    status, missing = await demo.call("GET", "pay/prepay/wx_unknown")
    assert status == 404 and missing["error"]
    status, refused = await demo.call("POST", "pay/confirm", {"package": "nope"})
    assert status == 400 and refused["err_msg"] == "get_brand_wcpay_request:fail"

    config = demo.config
    wxpay = WeChatPay(config.wechat.app_id, config.pay.api_key, config.pay.mch_id, timeout=10)
    wxpay.API_BASE_URL = f"{config.pay.api_base_url}/"
    now = demo.clock.now()
    created = await asyncio.to_thread(
        wxpay.order.create, trade_type="JSAPI", body="法式碎花连衣裙 M", total_fee=19900,
        notify_url=f"{demo.base}/pay/notify", client_ip="127.0.0.1", user_id=openid, out_trade_no="PV0001",
        time_start=now, time_expire=now + timedelta(minutes=30),
    )
    status, order = await demo.call("GET", f"pay/prepay/{created['prepay_id']}")
    assert status == 200 and order["total_fee"] == 19900 and order["body"] == "法式碎花连衣裙 M"
    params = wxpay.jsapi.get_jsapi_params(created["prepay_id"])
    status, stranger = await demo.call("POST", "pay/confirm", {**params, "openid": "o_someone_else"})
    assert stranger["err_msg"] == "get_brand_wcpay_request:fail" and stranger["err_desc"] == "支付用户与下单用户不一致"
    status, paid = await demo.call("POST", "pay/confirm", {**params, "openid": openid})
    assert status == 200 and paid["err_msg"] == "get_brand_wcpay_request:ok"
    assert demo.sandbox.pay.order("PV0001").paid
    assert demo.sandbox.world.cs_allowance(openid) is None, "a payment opens the unlimited 48-hour window"


async def test_the_pay_proxy_says_when_the_emulator_is_down(migrated: Config) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    config = dataclasses.replace(migrated, pay=dataclasses.replace(migrated.pay, api_base_url=nowhere),
                                 wechat=dataclasses.replace(migrated.wechat, api_base_url=nowhere))
    clock = ManualClock()
    shop = create_app(config, clock=clock)
    setup_preview(shop, build_sandbox(config, clock, demo=False))  # the sandbox is never served
    server = TestServer(shop, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session, session.post(
            server.make_url("/sandbox/api/pay/confirm"), json={"prepay_id": "wx1"}
        ) as response:
            status, answer = response.status, await response.json()
    finally:
        await server.close()
    assert status == 502 and answer["err_msg"] == "get_brand_wcpay_request:fail"
    assert answer["error"].startswith("pay emulator unreachable")
