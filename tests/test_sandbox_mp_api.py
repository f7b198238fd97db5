"""The MP API emulator, driven by the real wechatpy client over loopback HTTP (raw HTTP where wechatpy has no call).

wechatpy blocks (requests), so every call goes through `asyncio.to_thread` while the emulator runs on the loop.
Time moves only through the ManualClock.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import xmltodict
import yarl
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import APILimitedException, WeChatClientException

from bot.sandbox.mp_api import create_mp_app, mp_state
from bot.sandbox.mp_push import sign_push, signature
from bot.sandbox.mp_state import MpState
from bot.sandbox.world import CsVerdict, Delivered, World
from store.core.clock import ManualClock
from tests.sandbox_helpers import Receiver, SandboxOAuth, SandboxWeChatClient

APP_ID = "wx5a9d0c1e2b3f4a6c"
SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "sandboxToken42"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ALICE = "oAlice_0000000000000000000000"
BOB = "oBob_00000000000000000000000"
TEMPLATE = "TPL_order_paid"
DATA = {"thing1": {"value": "红色连衣裙"}, "amount2": {"value": "199.00元"}}

ServerFactory = Callable[..., Awaitable[TestServer]]
ClientFactory = Callable[..., Awaitable[TestClient]]


@dataclass
class Sandbox:
    world: World
    clock: ManualClock
    app: web.Application
    base: str
    http: TestClient
    clients: list[SandboxWeChatClient] = field(default_factory=list)

    @property
    def state(self) -> MpState:
        return mp_state(self.app)

    def client(self) -> SandboxWeChatClient:
        client = SandboxWeChatClient(self.base, APP_ID, SECRET)
        self.clients.append(client)
        return client

    async def api(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> dict[str, Any]:
        params = dict(kwargs.pop("params", {}))
        if token is not None:
            params["access_token"] = token
        async with self.http.request(method, path, params=params, **kwargs) as resp:
            assert resp.status == 200
            return await resp.json(content_type=None)

    async def token(self) -> str:
        body = await self.api("GET", "/cgi-bin/token", params=credentials())
        return body["access_token"]


def credentials(**override: str) -> dict[str, str]:
    return {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET} | override


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


async def errcode_of(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    with pytest.raises(WeChatClientException) as info:
        await asyncio.to_thread(fn, *args, **kwargs)
    return info.value.errcode


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def world(clock: ManualClock) -> World:
    return World(APP_ID, SECRET, clock)


@pytest.fixture
async def start_mp(
    aiohttp_server: ServerFactory, aiohttp_client: ClientFactory, world: World, clock: ManualClock
) -> AsyncIterator[Callable[..., Awaitable[Sandbox]]]:
    started: list[Sandbox] = []

    async def start(**options: Any) -> Sandbox:
        app = create_mp_app(world, **options)
        server = await aiohttp_server(app)
        sandbox = Sandbox(world, clock, app, f"http://{server.host}:{server.port}", await aiohttp_client(server))
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        for client in sandbox.clients:
            client._http.close()


@pytest.fixture
async def sandbox(start_mp: Callable[..., Awaitable[Sandbox]]) -> Sandbox:
    return await start_mp()


@pytest.fixture
async def receiver_url(aiohttp_server: ServerFactory) -> Callable[[Receiver], Awaitable[str]]:
    async def start(receiver: Receiver) -> str:
        server = await aiohttp_server(receiver.app())
        return f"http://{server.host}:{server.port}/wechat"

    return start


# -- access tokens -----------------------------------------------------------------------------------------------


async def test_wechatpy_fetches_a_token_and_uses_it(sandbox: Sandbox) -> None:
    client = sandbox.client()
    assert await call(client.menu.get) is None  # 46003 "menu no exist", which wechatpy maps to None
    assert await call(client.menu.delete) == {"errcode": 0, "errmsg": "ok"}
    assert sandbox.state.token_fetches == 1
    assert len(client.access_token) >= 128
    assert sandbox.state.calls["/cgi-bin/token"] == 1


async def test_wrong_credentials_are_refused(sandbox: Sandbox) -> None:
    wrong_app = SandboxWeChatClient(sandbox.base, "wx_not_ours", SECRET)
    wrong_secret = SandboxWeChatClient(sandbox.base, APP_ID, "nope")
    sandbox.clients += [wrong_app, wrong_secret]
    assert await errcode_of(wrong_app.fetch_access_token) == 40013
    assert await errcode_of(wrong_secret.fetch_access_token) == 40125
    assert (await sandbox.api("GET", "/cgi-bin/token", params=credentials(grant_type="x")))["errcode"] == 40002
    assert (await sandbox.api("GET", "/cgi-bin/token", params={"appid": APP_ID}))["errcode"] == 41004
    assert sandbox.state.token_fetches == 0


async def test_a_new_token_leaves_the_previous_one_valid_for_five_minutes(sandbox: Sandbox) -> None:
    first = await sandbox.token()
    second = await sandbox.token()
    assert first != second
    assert (await sandbox.api("GET", "/cgi-bin/menu/delete", first))["errcode"] == 0
    sandbox.clock.advance(minutes=4, seconds=59)
    assert (await sandbox.api("GET", "/cgi-bin/menu/delete", first))["errcode"] == 0
    sandbox.clock.advance(seconds=1)
    refused = await sandbox.api("GET", "/cgi-bin/menu/delete", first)
    assert refused["errcode"] == 40001
    assert refused["errmsg"].startswith("invalid credential, access_token is invalid or not latest")
    assert (await sandbox.api("GET", "/cgi-bin/menu/delete", second))["errcode"] == 0


async def test_a_token_expires_after_7200_seconds(sandbox: Sandbox) -> None:
    client = sandbox.client()
    await call(client.menu.delete)
    sandbox.clock.advance(seconds=7199)
    await call(client.menu.delete)
    sandbox.clock.advance(seconds=1)
    assert await errcode_of(client.menu.delete) == 42001
    assert sandbox.state.token_fetches == 1  # auto_retry=False: wechatpy did not refetch behind our back


async def test_missing_and_unknown_tokens(sandbox: Sandbox) -> None:
    assert (await sandbox.api("GET", "/cgi-bin/menu/get"))["errcode"] == 41001
    assert (await sandbox.api("GET", "/cgi-bin/menu/get", "forged"))["errcode"] == 40001


async def test_token_daily_quota_is_2000_per_shanghai_day(sandbox: Sandbox) -> None:
    assert sandbox.state.config.token_daily_quota == 2000
    for _ in range(2000):
        async with sandbox.http.get("/cgi-bin/token", params=credentials()) as resp:
            assert "access_token" in await resp.json()
    client = sandbox.client()
    with pytest.raises(WeChatClientException) as info:
        await call(client.fetch_access_token)
    assert info.value.errcode == 45009
    assert sandbox.state.token_fetches == 2000
    sandbox.clock.set(sandbox.clock.now().replace(hour=23, minute=59, second=59))
    assert await errcode_of(client.fetch_access_token) == 45009
    sandbox.clock.advance(seconds=1)  # midnight in Asia/Shanghai
    assert (await call(client.fetch_access_token))["expires_in"] == 7200


async def test_stable_token_is_stable_and_isolated_from_classic_tokens(sandbox: Sandbox) -> None:
    body = credentials()
    first = await sandbox.api("POST", "/cgi-bin/stable_token", json=body)
    assert first["expires_in"] == 7200
    classic = await sandbox.token()
    sandbox.clock.advance(seconds=100)
    again = await sandbox.api("POST", "/cgi-bin/stable_token", json=body)
    assert again == {"access_token": first["access_token"], "expires_in": 7100}
    assert (await sandbox.api("GET", "/cgi-bin/menu/delete", first["access_token"]))["errcode"] == 0
    assert (await sandbox.api("GET", "/cgi-bin/menu/delete", classic))["errcode"] == 0

    sandbox.clock.advance(seconds=6800)  # 300 s left: the platform refreshes 5 minutes early
    renewed = await sandbox.api("POST", "/cgi-bin/stable_token", json=body)
    assert renewed["access_token"] != first["access_token"] and renewed["expires_in"] == 7200
    assert (await sandbox.api("GET", "/cgi-bin/menu/delete", first["access_token"]))["errcode"] == 0
    sandbox.clock.advance(seconds=300)
    assert (await sandbox.api("GET", "/cgi-bin/menu/delete", first["access_token"]))["errcode"] == 42001
    assert sandbox.state.token_fetches == 1


async def test_stable_token_force_refresh(sandbox: Sandbox) -> None:
    body = credentials()
    current = (await sandbox.api("POST", "/cgi-bin/stable_token", json=body))["access_token"]
    forced = (await sandbox.api("POST", "/cgi-bin/stable_token", json=body | {"force_refresh": True}))["access_token"]
    assert forced != current
    assert (await sandbox.api("GET", "/cgi-bin/menu/delete", current))["errcode"] == 40001
    sandbox.clock.advance(seconds=29)  # within 30 s a forced refresh changes nothing
    same = await sandbox.api("POST", "/cgi-bin/stable_token", json=body | {"force_refresh": True})
    assert same["access_token"] == forced
    for _ in range(19):
        sandbox.clock.advance(seconds=30)
        assert "access_token" in await sandbox.api("POST", "/cgi-bin/stable_token", json=body | {"force_refresh": True})
    sandbox.clock.advance(seconds=30)
    limited = await sandbox.api("POST", "/cgi-bin/stable_token", json=body | {"force_refresh": True})
    assert limited["errcode"] == 45009


async def test_stable_token_wants_post_json(sandbox: Sandbox) -> None:
    assert (await sandbox.api("POST", "/cgi-bin/stable_token", data="grant_type=client_credential"))["errcode"] == 47001
    assert (await sandbox.api("GET", "/cgi-bin/stable_token"))["errcode"] == 43002
    wrong = await sandbox.api("POST", "/cgi-bin/stable_token", json=credentials(secret="nope"))
    assert wrong["errcode"] == 40125


# -- the common layer: unknown paths, injected errors, random faults, latency --------------------------------------


async def test_unknown_paths_and_methods_answer_wechat_json(sandbox: Sandbox) -> None:
    client = sandbox.client()
    assert await errcode_of(client.get, "no/such/api") == 48001
    assert (await sandbox.api("POST", "/cgi-bin/menu/get"))["errcode"] == 43001
    assert (await sandbox.api("GET", "/cgi-bin/menu/create"))["errcode"] == 43002
    assert (await sandbox.api("GET", "/sns/nothing"))["errcode"] == 48001


async def test_injected_errors_hit_the_next_calls_of_one_endpoint(sandbox: Sandbox) -> None:
    sandbox.world.follow(ALICE)
    client = sandbox.client()
    sandbox.state.inject_error("/cgi-bin/message/custom/send", -1, times=2)
    assert await errcode_of(client.message.send_text, ALICE, "一") == -1
    assert await errcode_of(client.message.send_text, ALICE, "二") == -1
    await call(client.message.send_text, ALICE, "三")
    assert [d.payload["text"]["content"] for d in sandbox.world.delivered(ALICE)] == ["三"]
    sandbox.state.inject_error("cgi-bin/token", 45009)
    with pytest.raises(WeChatClientException):
        await call(client.fetch_access_token)


async def test_fail_rate_returns_system_error_reproducibly(start_mp: Callable[..., Awaitable[Sandbox]]) -> None:
    always = await start_mp(fail_rate=1.0)
    assert (await always.api("GET", "/cgi-bin/token", params=credentials()))["errcode"] == -1

    async def outcomes(sandbox: Sandbox) -> list[int]:
        results = []
        for _ in range(200):
            body = await sandbox.api("GET", "/cgi-bin/token", params=credentials())
            results.append(body.get("errcode", 0))
        return results

    first = await outcomes(await start_mp(fail_rate=0.3, seed=7))
    second = await outcomes(await start_mp(fail_rate=0.3, seed=7))
    assert first == second
    assert 30 <= first.count(-1) <= 90


async def test_latency_is_spent_inside_the_server(start_mp: Callable[..., Awaitable[Sandbox]]) -> None:
    slow = await start_mp(latency_ms=60)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await slow.api("GET", "/cgi-bin/menu/get")
    assert loop.time() - started >= 0.06


# -- customer-service messages -------------------------------------------------------------------------------------


async def test_message_window_allows_five_in_48_hours(sandbox: Sandbox) -> None:
    sandbox.world.follow(ALICE)
    sandbox.clock.advance(minutes=2)  # the follow window (3 in 1 minute) is closed
    client = sandbox.client()
    assert await errcode_of(client.message.send_text, ALICE, "too early") == 45015
    sandbox.world.record_interaction(ALICE, "message")
    for n in range(5):
        await call(client.message.send_text, ALICE, f"回复{n}")
    assert await errcode_of(client.message.send_text, ALICE, "sixth") == 45047
    sandbox.world.record_interaction(ALICE, "message")  # a new message opens a fresh window
    await call(client.message.send_text, ALICE, "again")
    sandbox.clock.advance(hours=48)
    await call(client.fetch_access_token)  # the token, too, has long expired
    assert await errcode_of(client.message.send_text, ALICE, "late") == 45015
    assert len(sandbox.world.delivered(ALICE)) == 6


async def test_follow_click_and_scan_windows_allow_three_in_one_minute(sandbox: Sandbox) -> None:
    sandbox.world.follow(ALICE)
    client = sandbox.client()
    for n in range(3):
        await call(client.message.send_text, ALICE, f"欢迎{n}")
    assert await errcode_of(client.message.send_text, ALICE, "fourth") == 45047
    sandbox.clock.advance(seconds=30)
    sandbox.world.record_interaction(ALICE, "click")  # same bucket: a fresh 3, not 3 more on top
    assert sandbox.world.cs_allowance(ALICE) == 3
    sandbox.clock.advance(seconds=59)
    await call(client.message.send_text, ALICE, "still inside")
    sandbox.clock.advance(seconds=1)
    assert await errcode_of(client.message.send_text, ALICE, "a minute later") == 45015


async def test_payment_window_is_unlimited_and_spent_first(sandbox: Sandbox) -> None:
    world, clock = sandbox.world, sandbox.clock
    world.follow(ALICE)
    clock.advance(minutes=2)
    world.record_interaction(ALICE, "payment")
    clock.advance(hours=47)
    world.record_interaction(ALICE, "message")
    client = sandbox.client()
    for n in range(20):
        await call(client.message.send_text, ALICE, f"物流{n}")
    assert world.cs_allowance(ALICE) is None
    clock.advance(hours=1)  # the payment window closed; the message window is untouched
    assert world.cs_allowance(ALICE) == 5
    for n in range(5):
        await call(client.message.send_text, ALICE, f"after{n}")
    assert await errcode_of(client.message.send_text, ALICE, "one more") == 45047


async def test_message_window_is_spent_before_the_click_window(sandbox: Sandbox) -> None:
    sandbox.world.follow(ALICE)
    sandbox.world.record_interaction(ALICE, "message")
    assert sandbox.world.cs_allowance(ALICE) == 8  # 5 (message) + 3 (follow)
    client = sandbox.client()
    for n in range(3):
        await call(client.message.send_text, ALICE, f"m{n}")
    sandbox.clock.advance(minutes=1)  # the follow window closes unused
    assert sandbox.world.cs_allowance(ALICE) == 2
    for n in range(2):
        await call(client.message.send_text, ALICE, f"n{n}")
    assert await errcode_of(client.message.send_text, ALICE, "sixth") == 45047


async def test_custom_send_to_strangers_and_unfollowers(sandbox: Sandbox) -> None:
    client = sandbox.client()
    assert await errcode_of(client.message.send_text, BOB, "who?") == 40003
    sandbox.world.follow(ALICE)
    sandbox.world.record_interaction(ALICE, "payment")
    sandbox.world.unfollow(ALICE)
    assert await errcode_of(client.message.send_text, ALICE, "bye") == 45015
    sandbox.world.follow(ALICE)  # a new follow opens only its own short window
    assert sandbox.world.cs_allowance(ALICE) == 3


async def test_custom_news_allows_one_article(sandbox: Sandbox) -> None:
    sandbox.world.follow(ALICE)
    sandbox.world.record_interaction(ALICE, "payment")
    client = sandbox.client()
    article = {"title": "红色连衣裙", "description": "¥199", "url": "https://shop.example.com/p/1", "image": "x.jpg"}
    assert await errcode_of(client.message.send_articles, ALICE, [article, article]) == 45008
    await call(client.message.send_articles, ALICE, [article])
    [shown] = sandbox.world.delivered(ALICE)
    assert shown.payload["news"]["articles"][0]["title"] == "红色连衣裙"


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        (b"", 44002),
        (b"{not json", 47001),
        (b"[1]", 47001),
        ({"msgtype": "text", "text": {"content": "hi"}}, 40003),
        ({"touser": ALICE, "msgtype": "fax", "fax": {}}, 40008),
        ({"touser": ALICE, "msgtype": "text"}, 47001),
        ({"touser": ALICE, "msgtype": "text", "text": {"content": ""}}, 44004),
        ({"touser": ALICE, "msgtype": "image", "image": {}}, 40007),
        ({"touser": ALICE, "msgtype": "news", "news": {"articles": []}}, 44003),
    ],
)
async def test_custom_send_validates_the_body(sandbox: Sandbox, body: Any, errcode: int) -> None:
    sandbox.world.follow(ALICE)
    token = await sandbox.token()
    kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
    assert (await sandbox.api("POST", "/cgi-bin/message/custom/send", token, **kwargs))["errcode"] == errcode
    assert sandbox.world.delivered(ALICE) == []


async def test_deliveries_are_recorded_and_announced(sandbox: Sandbox) -> None:
    seen: list[tuple[str, Delivered]] = []
    unsubscribe = sandbox.world.subscribe_deliveries(lambda openid, d: seen.append((openid, d)))
    sandbox.world.follow(ALICE)
    client = sandbox.client()
    await call(client.message.send_text, ALICE, "你好")
    [delivered] = sandbox.world.delivered(ALICE)
    assert delivered == Delivered("custom", {"msgtype": "text", "text": {"content": "你好"}}, sandbox.clock.now())
    assert seen == [(ALICE, delivered)]
    unsubscribe()
    await call(client.message.send_text, ALICE, "again")
    assert len(seen) == 1


# -- template messages ---------------------------------------------------------------------------------------------


async def test_template_send_delivers_and_pushes_a_signed_job_finish(
    start_mp: Callable[..., Awaitable[Sandbox]], receiver_url: Callable[[Receiver], Awaitable[str]]
) -> None:
    receiver = Receiver(TOKEN, APP_ID)
    sandbox = await start_mp(callback_url=await receiver_url(receiver), token=TOKEN, original_id="gh_shop")
    sandbox.world.follow(ALICE)
    sandbox.clock.advance(hours=100)  # templates need no window
    client = sandbox.client()
    data = DATA | {"first": {"value": "您好"}, "remark": {"value": "谢谢"}, "thing3": {"value": "M", "color": "#f00"}}
    result = await call(client.message.send_template, ALICE, TEMPLATE, data, url="https://shop.example.com/o/1")
    assert result["errcode"] == 0 and isinstance(result["msgid"], int)

    [delivered] = sandbox.world.delivered(ALICE)
    assert delivered.kind == "template" and delivered.msgid == result["msgid"]
    assert delivered.payload["data"] == DATA | {"thing3": {"value": "M"}}  # first/remark/color dropped
    assert delivered.payload["url"] == "https://shop.example.com/o/1"

    [outcome] = await sandbox.state.drain_pushes()
    assert outcome.delivered and outcome.reply == "success"
    [push] = receiver.pushes
    assert push.query["openid"] == ALICE and "encrypt_type" not in push.query
    assert push.query["timestamp"] == str(int(sandbox.clock.now().timestamp()))
    message = push.message
    assert (message["ToUserName"], message["FromUserName"]) == ("gh_shop", ALICE)
    assert (message["MsgType"], message["Event"]) == ("event", "TEMPLATESENDJOBFINISH")
    assert (int(message["MsgID"]), message["Status"]) == (result["msgid"], "success")


async def test_template_push_in_safe_mode_and_a_blocking_follower(
    start_mp: Callable[..., Awaitable[Sandbox]], receiver_url: Callable[[Receiver], Awaitable[str]]
) -> None:
    receiver = Receiver(TOKEN, APP_ID, AES_KEY)
    url = await receiver_url(receiver)
    sandbox = await start_mp(callback_url=url, token=TOKEN, encoding_aes_key=AES_KEY, original_id="gh_shop")
    sandbox.world.follow(BOB)
    sandbox.world.block_templates(BOB)
    client = sandbox.client()
    result = await call(client.message.send_template, BOB, TEMPLATE, DATA)
    await sandbox.state.drain_pushes()
    assert sandbox.world.delivered(BOB) == []  # the follower refused: nothing shows in the chat
    [push] = receiver.pushes
    assert push.query["encrypt_type"] == "aes"
    envelope = xmltodict.parse(push.body)["xml"]
    assert set(envelope) == {"ToUserName", "Encrypt"} and envelope["ToUserName"] == "gh_shop"
    assert push.message["Status"] == "failed:user block"
    assert int(push.message["MsgID"]) == result["msgid"]


async def test_pushes_are_retried_on_server_errors(
    start_mp: Callable[..., Awaitable[Sandbox]], receiver_url: Callable[[Receiver], Awaitable[str]]
) -> None:
    receiver = Receiver(TOKEN, APP_ID, statuses=[500, 502])
    sandbox = await start_mp(callback_url=await receiver_url(receiver), token=TOKEN)
    sandbox.world.follow(ALICE)
    await call(sandbox.client().message.send_template, ALICE, TEMPLATE, DATA)
    [outcome] = await sandbox.state.drain_pushes()
    assert outcome.statuses == [500, 502, 200] and outcome.delivered
    assert receiver.hits == 3 and len(receiver.pushes) == 1


async def test_template_send_refusals(start_mp: Callable[..., Awaitable[Sandbox]]) -> None:
    sandbox = await start_mp(template_ids=frozenset({TEMPLATE}))
    client = sandbox.client()
    sandbox.world.follow(ALICE)
    sandbox.world.follow(BOB)
    sandbox.world.unfollow(BOB)
    assert await errcode_of(client.message.send_template, "oStranger", TEMPLATE, DATA) == 40003
    assert await errcode_of(client.message.send_template, BOB, TEMPLATE, DATA) == 43004
    assert await errcode_of(client.message.send_template, ALICE, "", DATA) == 40037
    assert await errcode_of(client.message.send_template, ALICE, "TPL_unknown", DATA) == 40037
    assert await errcode_of(client.post, "message/template/send", data={"touser": ALICE, "template_id": TEMPLATE}) == (
        47003
    )
    long_value = {"thing1": {"value": "一二三四五六七八九十一二三四五六七八九十一"}}
    assert await errcode_of(client.message.send_template, ALICE, TEMPLATE, long_value) == 47003
    two_lines = {"thing1": {"value": "第一行\n第二行"}}
    assert await errcode_of(client.message.send_template, ALICE, TEMPLATE, two_lines) == 47003
    exactly_twenty = {"thing1": {"value": "一二三四五六七八九十一二三四五六七八九十"}}
    await call(client.message.send_template, ALICE, TEMPLATE, exactly_twenty)
    assert len(sandbox.world.delivered(ALICE)) == 1


async def test_template_daily_quota(start_mp: Callable[..., Awaitable[Sandbox]]) -> None:
    sandbox = await start_mp(template_daily_quota=2)
    sandbox.world.follow(ALICE)
    client = sandbox.client()
    await call(client.message.send_template, ALICE, TEMPLATE, DATA)
    await call(client.message.send_template, ALICE, TEMPLATE, DATA)
    with pytest.raises(APILimitedException) as info:
        await call(client.message.send_template, ALICE, TEMPLATE, DATA)
    assert info.value.errcode == 45009
    sandbox.clock.advance(days=1)
    await call(client.fetch_access_token)
    await call(client.message.send_template, ALICE, TEMPLATE, DATA)
    assert (await start_mp()).state.config.template_daily_quota == 100_000


async def test_client_msg_id_sends_once_per_follower_within_ten_minutes(sandbox: Sandbox) -> None:
    sandbox.world.follow(ALICE)
    sandbox.world.follow(BOB)
    client = sandbox.client()

    def payload(openid: str, client_msg_id: str) -> dict[str, Any]:
        return {"touser": openid, "template_id": TEMPLATE, "data": DATA, "client_msg_id": client_msg_id}

    first = await call(client.post, "message/template/send", data=payload(ALICE, "order-1-paid"))
    with pytest.raises(WeChatClientException) as info:
        await call(client.post, "message/template/send", data=payload(ALICE, "order-1-paid"))
    assert info.value.errcode == 45065
    assert info.value.response.json()["msgid"] == first["msgid"]  # the duplicate names the first send
    assert len(sandbox.world.delivered(ALICE)) == 1
    other = await call(client.post, "message/template/send", data=payload(BOB, "order-1-paid"))
    assert other["msgid"] != first["msgid"]
    sandbox.clock.advance(minutes=10)
    later = await call(client.post, "message/template/send", data=payload(ALICE, "order-1-paid"))
    assert later["msgid"] not in (first["msgid"], other["msgid"])
    assert await errcode_of(client.post, "message/template/send", data=payload(ALICE, "x" * 65)) == 45067


# -- menus ---------------------------------------------------------------------------------------------------------

MENU = {
    "button": [
        {"type": "click", "name": "今日推荐", "key": "TODAY"},
        {
            "name": "我的",
            "sub_button": [
                {"type": "click", "name": "我的订单", "key": "MY_ORDERS"},
                {"type": "view", "name": "会员中心", "url": "https://shop.example.com/member"},
                {"type": "scancode_push", "name": "扫码", "key": "SCAN", "sub_button": []},
            ],
        },
    ]
}


async def test_menu_create_get_delete(sandbox: Sandbox) -> None:
    client = sandbox.client()
    assert await call(client.menu.create, MENU) == {"errcode": 0, "errmsg": "ok"}
    got = await call(client.menu.get)
    first, mine = got["menu"]["button"]
    assert first == {"type": "click", "name": "今日推荐", "key": "TODAY", "sub_button": []}
    assert mine["name"] == "我的" and [b["key"] for b in mine["sub_button"] if "key" in b] == ["MY_ORDERS", "SCAN"]
    assert sandbox.world.menu() == got["menu"]
    await call(client.menu.delete)
    assert await call(client.menu.get) is None
    assert sandbox.world.menu() is None


def leaf(**fields: Any) -> dict[str, Any]:
    return {"type": "click", "name": "按钮", "key": "K"} | fields


def parent(*subs: dict[str, Any], name: str = "更多") -> dict[str, Any]:
    return {"name": name, "sub_button": list(subs)}


@pytest.mark.parametrize(
    ("menu", "errcode"),
    [
        ({"button": {"type": "click"}}, 40015),
        ({"button": []}, 40016),
        ({}, 40016),
        ({"button": [leaf()] * 4}, 40016),
        ({"button": [parent(*[leaf()] * 6)]}, 40023),
        ({"button": [{"name": "空", "sub_button": []}]}, 40017),
        ({"button": [leaf(type="telepathy")]}, 40017),
        ({"button": [parent(leaf(type="telepathy"))]}, 40024),
        ({"button": [leaf(name="六个汉字名字")]}, 40018),
        ({"button": [leaf(name="")]}, 40018),
        ({"button": [parent(leaf(name="子" * 21))]}, 40025),
        ({"button": [leaf(key="k" * 129)]}, 40019),
        ({"button": [leaf(key=None)]}, 40019),
        ({"button": [parent(leaf(key="k" * 129))]}, 40026),
        ({"button": [leaf(type="view", url="https://x/" + "a" * 1015)]}, 40020),
        ({"button": [parent(leaf(type="view", url="https://x/" + "a" * 1015))]}, 40027),
        ({"button": [parent(leaf(type="view", key="https://x/"))]}, 40027),
        ({"button": [parent(parent(leaf()))]}, 40022),
        ({"button": [leaf(type="media_id")]}, 40007),
        ({"button": [leaf(type="article_id")]}, 40060),
        ({"button": [leaf(type="miniprogram", url="https://x/")]}, 47001),
    ],
)
async def test_menu_validation(sandbox: Sandbox, menu: dict[str, Any], errcode: int) -> None:
    client = sandbox.client()
    assert await errcode_of(client.menu.create, menu) == errcode
    assert sandbox.world.menu() is None


async def test_menu_limits_are_inclusive(sandbox: Sandbox) -> None:
    menu = {
        "button": [
            leaf(name="五个汉字好a", key="k" * 128),  # 16 bytes
            parent(*[leaf(name="子" * 20)] * 5),  # 60 bytes
            leaf(type="view", name="网", key=None, url="https://x/" + "a" * 1014),  # 1024 bytes
        ]
    }
    await call(sandbox.client().menu.create, menu)
    assert len(sandbox.world.menu()["button"]) == 3  # type: ignore[index]


# -- QR codes ------------------------------------------------------------------------------------------------------


async def test_qrcode_create_and_scan(sandbox: Sandbox) -> None:
    client = sandbox.client()
    temp = await call(client.qrcode.create, {"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 123}}})
    assert temp["expire_seconds"] == 60 and temp["url"].startswith("http://weixin.qq.com/q/")
    week = await call(
        client.qrcode.create,
        {"expire_seconds": 604800, "action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "gift"}}},
    )
    assert week["expire_seconds"] == 604800
    capped = await call(
        client.qrcode.create,
        {"expire_seconds": 9_999_999, "action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 1}}},
    )
    assert capped["expire_seconds"] == 2_592_000
    permanent = {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "store-001"}}}
    first, again = await call(client.qrcode.create, permanent), await call(client.qrcode.create, permanent)
    assert first == again and "expire_seconds" not in first

    world = sandbox.world
    assert world.scan_ticket(temp["ticket"]) == 123
    assert world.scan_ticket(first["ticket"]) == "store-001"
    new = world.scan(ALICE, week["ticket"])
    assert (new.event, new.event_key) == ("subscribe", "qrscene_gift")
    again_scan = world.scan(ALICE, temp["ticket"])
    assert (again_scan.event, again_scan.event_key) == ("SCAN", "123")
    assert world.cs_allowance(ALICE) == 3
    info = await call(client.user.get, ALICE)
    assert (info["subscribe_scene"], info["qr_scene_str"], info["qr_scene"]) == ("ADD_SCENE_QR_CODE", "gift", 0)

    sandbox.clock.advance(seconds=60)
    with pytest.raises(LookupError):
        world.scan_ticket(temp["ticket"])
    assert world.scan_ticket(first["ticket"]) == "store-001"
    with pytest.raises(LookupError):
        world.scan_ticket("no-such-ticket")


async def test_qrcode_without_scene_wrapper_gets_scene_zero(sandbox: Sandbox) -> None:
    created = await call(sandbox.client().qrcode.create, {"action_name": "QR_SCENE", "action_info": {"scene_id": 123}})
    assert sandbox.world.scan_ticket(created["ticket"]) == 0  # WeChat's own behaviour (WECHAT.md §1.4)


@pytest.mark.parametrize(
    "body",
    [
        {"action_name": "QR_FOREVER", "action_info": {"scene": {"scene_id": 1}}},
        {"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 2**32}}},
        {"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": "12"}}},
        {"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 100_001}}},
        {"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 0}}},
        {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "s" * 65}}},
        {"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": ""}}},
    ],
)
async def test_qrcode_scene_ranges(sandbox: Sandbox, body: dict[str, Any]) -> None:
    assert await errcode_of(sandbox.client().qrcode.create, body) == 40053


async def test_qrcode_scene_range_bounds_are_accepted(sandbox: Sandbox) -> None:
    client = sandbox.client()
    for action, scene in [("QR_LIMIT_SCENE", 100_000), ("QR_LIMIT_SCENE", 1), ("QR_SCENE", 2**32 - 1)]:
        created = await call(
            client.qrcode.create, {"action_name": action, "action_info": {"scene": {"scene_id": scene}}}
        )
        assert sandbox.world.scan_ticket(created["ticket"]) == scene


# -- user info -----------------------------------------------------------------------------------------------------


async def test_user_info(sandbox: Sandbox) -> None:
    sandbox.world.follow(ALICE)
    followed_at = int(sandbox.clock.now().timestamp())
    sandbox.world.follow(BOB)
    sandbox.world.unfollow(BOB)
    client = sandbox.client()
    info = await call(client.user.get, ALICE)
    assert info["subscribe"] == 1 and info["openid"] == ALICE and info["subscribe_time"] == followed_at
    assert info["subscribe_scene"] == "ADD_SCENE_OTHERS"
    assert "nickname" not in info and "headimgurl" not in info
    assert await call(client.user.get, BOB) == {"subscribe": 0, "openid": BOB}
    assert await errcode_of(client.user.get, "oStranger") == 40003


# -- OAuth ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    status: int
    location: yarl.URL | None
    text: str


async def browse(url: str, jar: aiohttp.CookieJar | None = None) -> Page:
    """What WeChat's in-app browser does with an authorize URL (the #fragment is never sent)."""
    session = aiohttp.ClientSession(cookie_jar=jar if jar is not None else aiohttp.CookieJar(unsafe=True))
    async with session, session.get(url, allow_redirects=False) as resp:
        location = resp.headers.get("Location")
        return Page(resp.status, yarl.URL(location) if location else None, await resp.text())


async def test_oauth_snsapi_base_with_wechatpy(sandbox: Sandbox) -> None:
    oauth = SandboxOAuth(sandbox.base, APP_ID, SECRET, "https://shop.example.com/pay/42?from=menu", state="st8")
    try:
        await check_oauth(sandbox, oauth)
    finally:
        oauth._http.close()


async def check_oauth(sandbox: Sandbox, oauth: SandboxOAuth) -> None:
    url = oauth.authorize_url.replace("#wechat_redirect", f"&sandbox_openid={ALICE}#wechat_redirect")
    jar = aiohttp.CookieJar(unsafe=True)
    page = await browse(url, jar)
    assert page.status == 302 and page.location is not None
    target = page.location
    assert (target.host, target.path) == ("shop.example.com", "/pay/42")
    assert target.query["from"] == "menu" and target.query["state"] == "st8"
    code = target.query["code"]

    token = await call(oauth.fetch_access_token, code)
    assert (token["openid"], token["scope"], token["expires_in"]) == (ALICE, "snsapi_base", 7200)
    assert oauth.open_id == ALICE and token["refresh_token"]
    assert await errcode_of(oauth.fetch_access_token, code) == 40163
    assert sandbox.world.follower(ALICE) is not None  # a visitor is known (subscribe 0) even without following

    again = await browse(oauth.authorize_url, jar)  # the cookie remembers who is browsing
    assert again.location is not None
    code2 = again.location.query["code"]
    sandbox.clock.advance(minutes=5)
    assert await errcode_of(oauth.fetch_access_token, code2) == 40029
    assert await errcode_of(oauth.fetch_access_token, "forged") == 40029


async def test_oauth_refusals(start_mp: Callable[..., Awaitable[Sandbox]]) -> None:
    sandbox = await start_mp(oauth_domains=frozenset({"shop.example.com"}))
    base = f"{sandbox.base}/connect/oauth2/authorize"
    good = {
        "appid": APP_ID,
        "redirect_uri": "https://shop.example.com/p",
        "response_type": "code",
        "scope": "snsapi_base",
        "sandbox_openid": ALICE,
    }
    assert (await browse(str(yarl.URL(base).with_query(good)))).status == 302
    for change, shown in [
        ({"appid": "wx_other"}, "errcode=40013"),
        ({"redirect_uri": "https://evil.example.com/p"}, "errcode=10003"),
        ({"scope": "snsapi_everything"}, "errcode=10005"),
        ({"sandbox_openid": ""}, "sandbox_openid"),
    ]:
        page = await browse(str(yarl.URL(base).with_query(good | change)))
        assert page.status == 400 and shown in page.text

    bad_secret = SandboxOAuth(sandbox.base, APP_ID, "nope", "https://shop.example.com/p")
    assert await errcode_of(bad_secret.fetch_access_token, "whatever") == 40125
    bad_secret._http.close()
    assert (await sandbox.api("GET", "/sns/oauth2/access_token", params={"appid": APP_ID}))["errcode"] == 41004


# -- the world on its own ------------------------------------------------------------------------------------------


def test_world_is_safe_under_threads(world: World) -> None:
    world.follow(ALICE)
    world.record_interaction(ALICE, "message")
    verdicts: list[CsVerdict] = []
    lock = threading.Lock()

    def send() -> None:
        for _ in range(10):
            verdict = world.send_custom(ALICE, {"msgtype": "text", "text": {"content": "x"}})
            with lock:
                verdicts.append(verdict)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert verdicts.count(CsVerdict.SENT) == 8  # 5 (message) + 3 (follow), never more
    assert len(world.delivered(ALICE)) == 8


def test_a_late_interaction_does_not_shorten_a_newer_window(world: World, clock: ManualClock) -> None:
    world.follow(ALICE)
    clock.advance(minutes=2)
    world.record_interaction(ALICE, "message")
    world.record_interaction(ALICE, "message", at=clock.now().replace(hour=0))
    clock.advance(hours=47, minutes=50)  # a window opened at midnight would have closed by now
    assert world.cs_allowance(ALICE) == 5


def test_compatible_push_carries_plaintext_and_ciphertext() -> None:
    xml = "<xml><ToUserName><![CDATA[gh_shop]]></ToUserName><Event><![CDATA[x]]></Event></xml>"
    push = sign_push(
        xml,
        token=TOKEN,
        openid=ALICE,
        timestamp=1700000000,
        nonce="12345",
        mode="compatible",
        encoding_aes_key=AES_KEY,
        app_id=APP_ID,
        original_id="gh_shop",
    )
    assert push.query["signature"] == signature(TOKEN, "1700000000", "12345")
    fields = xmltodict.parse(push.body)["xml"]
    assert fields["Event"] == "x" and "Encrypt" in fields
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    assert crypto.decrypt_message(push.body, push.query["msg_signature"], "1700000000", "12345") == xml
