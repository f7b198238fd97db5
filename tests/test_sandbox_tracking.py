"""The Kuaidi100-style tracking emulator: subscribe, scripted pushes to a receiver that checks the sign,
re-pushes, duplicates, out-of-order pushes and the real-time query, all over loopback HTTP."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from bot.sandbox.tracking import TrackingEmulator, create_tracking_app, md5_upper
from bot.sandbox.tracking_script import basic_state
from store.core.clock import SHANGHAI, ManualClock

KEY = "kd100AuthKey"
CUSTOMER = "CUST0001"
SALT = "s4lt"
NUMBER = "YT1234567890"


@dataclass
class Receiver:
    """The product's push endpoint in miniature: checks md5(param + salt) case-insensitively, then answers."""

    salt: str | None = SALT
    script: list[str] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    signs: list[str | None] = field(default_factory=list)
    bad_sign: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        param, sign = str(form["param"]), form.get("sign")
        mode = self.script.pop(0) if self.script else "ok"
        if self.salt is not None:
            expected = hashlib.md5((param + self.salt).encode()).hexdigest()
            if not isinstance(sign, str) or sign.lower() != expected:
                self.bad_sign += 1
                return web.json_response({"result": False, "returnCode": "500", "message": "签名错误"})
        self.pushes.append(json.loads(param))
        self.signs.append(sign if isinstance(sign, str) else None)
        if mode == "http500":
            return web.Response(status=500)
        if mode == "not-json":
            return web.Response(text="success")
        if mode == "fail":
            return web.json_response({"result": False, "returnCode": "500", "message": "数据库忙"})
        return web.json_response({"result": True, "returnCode": "200", "message": "成功"})

    def states(self) -> list[str]:
        return [basic_state(p["lastResult"]["state"]) for p in self.pushes]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
def tracker(clock: ManualClock) -> TrackingEmulator:
    return TrackingEmulator(key=KEY, customer=CUSTOMER, clock=clock, refused_companies={"ems"}, push_timeout=2)


@pytest.fixture
async def server(aiohttp_server: Callable[..., Awaitable[TestServer]], tracker: TrackingEmulator) -> TestServer:
    return await aiohttp_server(create_tracking_app(tracker))


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> tuple[Receiver, str]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/logistics/notify", receiver.handle)
    notify = await aiohttp_server(app)
    return receiver, str(notify.make_url("/logistics/notify"))


async def post_form(server: TestServer, path: str, form: dict[str, str]) -> dict[str, Any]:
    async with ClientSession() as session, session.post(server.make_url(path), data=form) as response:
        assert response.status == 200
        return await response.json()


async def subscribe(server: TestServer, callback: str, *, company: str = "yuantong", number: str = NUMBER,
                    key: str = KEY, **parameters: str | None) -> dict[str, Any]:
    params = {"callbackurl": callback, "salt": SALT, "resultv2": "4"} | parameters
    param = {"company": company, "number": number, "from": "广东省深圳市南山区", "to": "北京市朝阳区", "key": key,
             "parameters": {k: v for k, v in params.items() if v is not None}}
    return await post_form(server, "/poll", {"schema": "json", "param": json.dumps(param, ensure_ascii=False)})


async def walk(tracker: TrackingEmulator, clock: ManualClock, number: str = NUMBER) -> int:
    steps = 0
    while await tracker.advance(number) is not None:
        steps += 1
        clock.advance(hours=6)
    return steps


async def test_subscribe_and_walk_a_parcel_to_signed(server: TestServer, tracker: TrackingEmulator,
                                                     clock: ManualClock, receiver: tuple[Receiver, str]) -> None:
    merchant, url = receiver
    assert await subscribe(server, url) == {"result": True, "returnCode": "200", "message": "提交成功"}
    assert await walk(tracker, clock) == 6
    assert merchant.bad_sign == 0 and all(s is not None and s == s.upper() for s in merchant.signs)
    assert merchant.states() == ["1", "0", "0", "0", "5", "3"]
    assert [p["status"] for p in merchant.pushes] == ["polling"] * 5 + ["shutdown"]
    last = merchant.pushes[-1]["lastResult"]
    assert (last["state"], last["ischeck"], last["com"], last["nu"]) == ("301", "1", "yuantong", NUMBER)
    assert [d["statusCode"] for d in last["data"]] == ["301", "5", "1001", "1002", "1002", "103"], "newest first"
    assert last["data"][0]["ftime"] == "2026-11-25 16:00:00" and last["data"][-1]["time"] == "2026-11-24 10:00:00"
    assert last["data"][0]["status"] == "签收" and last["data"][0]["areaName"] == "北京,北京市"
    assert await tracker.advance(NUMBER) is None, "monitoring is over"
    assert all(d.acknowledged for d in tracker.parcel(NUMBER).pushes)


@pytest.mark.parametrize(("scenario", "states", "final"), [
    ("difficult", ["1", "0", "0", "0", "2", "5", "3"], ("shutdown", "")),
    ("returned", ["1", "0", "0", "0", "5", "14", "6", "4"], ("shutdown", "")),
    ("no_record", ["0"], ("abort", "3天查询无记录")),
    ("uncollected", ["1", "1"], ("abort", "60天无变化")),
])
async def test_scenarios(server: TestServer, tracker: TrackingEmulator, clock: ManualClock,
                         receiver: tuple[Receiver, str], scenario: str, states: list[str], final: tuple) -> None:
    merchant, url = receiver
    tracker.set_scenario("yuantong", NUMBER, scenario)
    await subscribe(server, url)
    await walk(tracker, clock)
    assert merchant.states() == states
    assert (merchant.pushes[-1]["status"], merchant.pushes[-1]["message"]) == final
    if scenario == "uncollected":
        assert [d["statusCode"] for d in merchant.pushes[-1]["lastResult"]["data"]] == ["101"], "never 103 揽收"
    if scenario == "no_record":
        assert merchant.pushes[0]["lastResult"]["data"] == []


async def test_resultv2_controls_the_trace_fields(server: TestServer, tracker: TrackingEmulator,
                                                  clock: ManualClock, receiver: tuple[Receiver, str]) -> None:
    merchant, url = receiver
    await subscribe(server, url, resultv2=None)
    await tracker.advance(NUMBER)
    await tracker.advance(NUMBER)
    plain = merchant.pushes[-1]["lastResult"]
    assert plain["state"] == "0" and set(plain["data"][0]) == {"context", "time", "ftime"}
    await subscribe(server, url, resultv2="1")
    await tracker.advance(NUMBER)
    named = merchant.pushes[-1]["lastResult"]["data"][0]
    assert (named["status"], named["statusCode"], named["areaCode"]) == ("在途", "0", "CN420100000000")
    assert "areaPinYin" not in named


async def test_sign_follows_the_salt(server: TestServer, tracker: TrackingEmulator, clock: ManualClock,
                                     receiver: tuple[Receiver, str]) -> None:
    merchant, url = receiver
    merchant.salt = None
    await subscribe(server, url, salt=None)
    delivery = await tracker.advance(NUMBER)
    assert delivery is not None and b"sign=" not in delivery.payload and merchant.signs == [None]
    await subscribe(server, url, salt="")
    await tracker.advance(NUMBER)
    param = json.dumps(merchant.pushes[-1], ensure_ascii=False, separators=(",", ":"))
    assert merchant.signs[-1] == md5_upper(param)


@pytest.mark.parametrize(("change", "code"), [
    ({"key": "wrong"}, "600"),
    ({"company": "nosuchexpress"}, "700"),
    ({"number": "12345"}, "700"),
    ({"number": "YT12345678#"}, "700"),
    ({"callbackurl": "ftp://example.com/x"}, "700"),
    ({"company": "ems"}, "701"),
    ({"company": "", "autoCom": "1"}, "702"),
])
async def test_subscribe_refusals(server: TestServer, receiver: tuple[Receiver, str], change: dict, code: str) -> None:
    _, url = receiver
    change = dict(change)
    callback = change.pop("callbackurl", url)
    reply = await subscribe(server, callback, **change)
    assert (reply["result"], reply["returnCode"]) == (False, code)


async def test_bad_envelopes(server: TestServer) -> None:
    assert (await post_form(server, "/poll", {"schema": "json", "param": "{not json"}))["returnCode"] == "700"
    assert (await post_form(server, "/poll", {"schema": "xml", "param": "{}"}))["returnCode"] == "700"


async def test_four_subscriptions_a_month(server: TestServer, tracker: TrackingEmulator, clock: ManualClock,
                                          receiver: tuple[Receiver, str]) -> None:
    _, url = receiver
    for _ in range(4):
        assert (await subscribe(server, url))["returnCode"] == "200"
        clock.advance(days=1)
    assert await subscribe(server, url) == {"result": False, "returnCode": "501", "message": "POLL:重复订阅"}
    assert (await subscribe(server, url, number="YT0000000001"))["returnCode"] == "200", "counted per number"
    clock.set(datetime(2026, 12, 1, 0, 0, tzinfo=SHANGHAI))
    assert (await subscribe(server, url))["returnCode"] == "200", "a new month"


async def test_failed_pushes_are_repushed_every_30_minutes(server: TestServer, tracker: TrackingEmulator,
                                                           clock: ManualClock, receiver: tuple[Receiver, str]) -> None:
    merchant, url = receiver
    merchant.script = ["fail", "http500", "not-json"]
    await subscribe(server, url)
    delivery = await tracker.advance(NUMBER)
    assert delivery is not None and not delivery.attempts[0].ok
    for _ in range(2):
        clock.advance(minutes=29)
        assert await tracker.deliver_due() == []
        clock.advance(minutes=1)
        [failed] = await tracker.deliver_due()
        assert not failed.ok
    clock.advance(minutes=30)
    [ok] = await tracker.deliver_due()
    assert ok.ok and delivery.acknowledged
    assert [a.at - delivery.created_at for a in delivery.attempts] == [timedelta(minutes=m) for m in (0, 30, 60, 90)]
    assert merchant.pushes[0] == merchant.pushes[-1], "the same payload is re-pushed"

    merchant.script = ["fail"] * 4
    second = await tracker.advance(NUMBER)
    assert second is not None
    for _ in range(3):
        clock.advance(minutes=30)
        await tracker.deliver_due()
    assert second.given_up and len(second.attempts) == 4
    clock.advance(hours=5)
    assert await tracker.deliver_due() == []


async def test_duplicates_and_out_of_order_pushes(server: TestServer, tracker: TrackingEmulator,
                                                  clock: ManualClock, receiver: tuple[Receiver, str]) -> None:
    merchant, url = receiver
    await subscribe(server, url)
    await tracker.advance(NUMBER)
    clock.advance(hours=3)
    await tracker.advance(NUMBER)
    twice = await tracker.push_again(NUMBER, copies=2)
    assert len(twice) == 2 and all(a.ok and a.duplicate for a in twice)
    [late] = await tracker.push_again(NUMBER, index=0)
    assert late.ok
    assert merchant.states() == ["1", "0", "0", "0", "1"], "an older state arrives after the newer ones"
    assert merchant.pushes[1] == merchant.pushes[2] == merchant.pushes[3]
    newest = max(merchant.pushes, key=lambda p: p["lastResult"]["data"][0]["ftime"])
    assert basic_state(newest["lastResult"]["state"]) == "0", "a receiver keeping the newest ftime is not fooled"


async def test_shunfeng_without_phone_never_finds_a_trace(server: TestServer, tracker: TrackingEmulator,
                                                          clock: ManualClock, receiver: tuple[Receiver, str]) -> None:
    merchant, url = receiver
    await subscribe(server, url, company="shunfeng", number="SF1234567890")
    await walk(tracker, clock, "SF1234567890")
    assert (merchant.pushes[-1]["status"], merchant.pushes[-1]["message"]) == ("abort", "3天查询无记录")
    await subscribe(server, url, company="shunfeng", number="SF1234567891")
    await subscribe(server, url, company="shunfeng", number="SF1234567891", phone="13800001234")
    await tracker.advance("SF1234567891")
    assert merchant.states()[-1] == "1", "resubscribed with the phone before any push: the trace is found"


async def test_realtime_query(server: TestServer, tracker: TrackingEmulator, clock: ManualClock,
                              receiver: tuple[Receiver, str]) -> None:
    _, url = receiver

    def form(param: dict[str, Any], *, key: str = KEY) -> dict[str, str]:
        text = json.dumps(param)
        return {"customer": CUSTOMER, "param": text, "sign": md5_upper(text + key + CUSTOMER)}

    query = {"com": "yuantong", "num": NUMBER, "resultv2": "4"}
    assert (await post_form(server, "/poll/query.do", form(query)))["returnCode"] == "500", "no trace yet"
    await subscribe(server, url)
    for _ in range(3):
        await tracker.advance(NUMBER)
        clock.advance(hours=1)
    trace = await post_form(server, "/poll/query.do", form(query))
    assert (trace["message"], trace["state"], trace["ischeck"]) == ("ok", "1002", "0")
    assert [d["statusCode"] for d in trace["data"]] == ["1002", "1002", "103"]
    ascending = await post_form(server, "/poll/query.do", form(query | {"order": "asc"}))
    assert ascending["data"][0]["statusCode"] == "103"
    assert (await post_form(server, "/poll/query.do", form(query, key="nope")))["returnCode"] == "503"
    lower = form(query) | {"sign": form(query)["sign"].lower()}
    assert (await post_form(server, "/poll/query.do", lower))["returnCode"] == "503"
    assert (await post_form(server, "/poll/query.do", form({"com": "shunfeng", "num": "SF1"})))["returnCode"] == "408"
    assert (await post_form(server, "/poll/query.do", form({"com": "x", "num": "1"})))["returnCode"] == "400"


async def test_injected_faults(server: TestServer, tracker: TrackingEmulator, receiver: tuple[Receiver, str]) -> None:
    _, url = receiver
    tracker.faults.fail_next("poll", code="500", message="服务器错误")
    assert await subscribe(server, url) == {"result": False, "returnCode": "500", "message": "服务器错误"}
    tracker.faults.fail_next("poll", code="", message="gateway", http_status=502)
    async with ClientSession() as session, session.post(server.make_url("/poll"), data={"schema": "json"}) as r:
        assert r.status == 502
    assert (await subscribe(server, url))["returnCode"] == "200"


async def test_sandbox_controls_and_auto_walk(aiohttp_server: Callable[..., Awaitable[TestServer]],
                                              clock: ManualClock, receiver: tuple[Receiver, str]) -> None:
    merchant, url = receiver
    tracker = TrackingEmulator(key=KEY, clock=clock, auto_walk=timedelta(hours=4), poll_interval=3600)
    server = await aiohttp_server(create_tracking_app(tracker))
    async with ClientSession() as session:
        async with session.post(server.make_url("/sandbox/tracking/scenario"),
                                json={"company": "yuantong", "number": NUMBER, "scenario": "returned"}) as r:
            assert r.status == 200
        await subscribe(server, url)
        async with session.post(server.make_url("/sandbox/tracking/advance"), json={"number": NUMBER}) as r:
            answer = await r.json()
            assert (answer["pushed"], answer["acknowledged"], answer["error"]) == (True, True, None)
    assert await tracker.walk_due() == []
    clock.advance(hours=4)
    assert len(await tracker.walk_due()) == 1
    assert tracker.parcel(NUMBER).scenario == "returned" and merchant.states() == ["1", "0"]
