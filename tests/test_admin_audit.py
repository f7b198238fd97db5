"""The audit log and the console's Chinese errors over real HTTP: every change through the admin API is recorded
(who, role, route, target, a summary without secrets, Shanghai time by the injected clock, the status), read back
with filters and pages; every error the console shows says what went wrong in Chinese."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from bot.process.config import Config
from bot.sandbox.mp_api import MP_STATE
from store.core.clock import SHANGHAI, ManualClock
from tests.console_support import PASSWORD, USER, console_running, create_user, seed_paid_order, with_token
from tests.pay_support import PayWorld, pay_world
from tests.support import wxshop

ENGLISH_SENTENCE = re.compile(r"[A-Za-z]{2,}[ ,;:'][ ]?[A-Za-z]{2,}")
HAN = re.compile(r"[\u4e00-\u9fff]")
START = datetime(2026, 12, 4, 9, 30, tzinfo=SHANGHAI)


async def test_every_change_is_recorded_with_who_what_and_when(migrated: Config, env: dict[str, str]) -> None:
    create_user(env)
    made = wxshop("operators", "add", "vera", "--role", "viewer", "--password-stdin", env=env, input=f"{PASSWORD}\n")
    assert made.returncode == 0, made.stderr
    order_no = seed_paid_order(migrated)
    clock = ManualClock(START)
    async with console_running(with_token(migrated), clock) as console:
        assert (await console.login()).status == 303
        headers = {"X-CSRF-Token": await console.csrf()}
        parcel = {"carrier": "yuantong", "tracking_no": "YT1234567890"}
        shipped = await console.browser.post(console.url(f"/admin/api/orders/{order_no}/ship"), json=parcel,
                                             headers=headers)  # fmt: skip
        assert shipped.status == 201, await shipped.text()
        clock.advance(minutes=5)
        account = {"username": "otto", "password": "secret words 42", "role": "operator"}
        assert (await console.browser.post(console.url("/admin/api/operators"), json=account,
                                           headers=headers)).status == 201  # fmt: skip
        assert (await console.browser.get(console.url("/admin/api/orders"))).status == 200  # a read: not recorded

        console.browser.cookie_jar.clear()
        assert (await console.login("vera")).status == 303
        refused = await console.browser.post(console.url(f"/admin/api/orders/{order_no}/refund"),
                                             json={"reason": "试试"}, headers={"X-CSRF-Token": await console.csrf()})
        assert refused.status == 403
        assert (await console.browser.get(console.url("/admin/api/audit"))).status == 403, "the log is an admin's"

        console.browser.cookie_jar.clear()
        assert (await console.login()).status == 303
        log = await (await console.browser.get(console.url("/admin/api/audit"))).json()
        entries = log["entries"]
        assert [(e["username"], e["role"], e["method"], e["route"], e["status"]) for e in entries] == [
            ("vera", "viewer", "POST", "/admin/api/orders/{order_no}/refund", 403),
            (USER, "admin", "POST", "/admin/api/operators", 201),
            (USER, "admin", "POST", "/admin/api/orders/{order_no}/ship", 201),
        ]
        assert entries[2]["target"] == f"order_no={order_no}" and entries[2]["at"] == "2026-12-04T09:30+08:00"
        assert entries[1]["at"] == "2026-12-04T09:35+08:00"
        assert "tracking_no=YT1234567890" in entries[2]["summary"]
        assert "username=otto" in entries[1]["summary"] and "password=***" in entries[1]["summary"]
        assert "secret words" not in str(log)

        only_vera = await (await console.browser.get(console.url("/admin/api/audit?user=vera"))).json()
        assert [e["username"] for e in only_vera["entries"]] == ["vera"]
        refusals = await (await console.browser.get(console.url("/admin/api/audit?status=403"))).json()
        assert [e["route"] for e in refusals["entries"]] == ["/admin/api/orders/{order_no}/refund"]
        shipping = await (await console.browser.get(console.url("/admin/api/audit?route=ship"))).json()
        assert len(shipping["entries"]) == 1
        first = await (await console.browser.get(console.url("/admin/api/audit?limit=2"))).json()
        assert len(first["entries"]) == 2 and first["next_before_id"] == first["entries"][1]["id"]
        rest = await (await console.browser.get(
            console.url(f"/admin/api/audit?limit=2&before_id={first['next_before_id']}"))).json()  # fmt: skip
        assert [e["route"] for e in rest["entries"]] == ["/admin/api/orders/{order_no}/ship"]
        assert rest["next_before_id"] is None
        that_day = await (await console.browser.get(
            console.url("/admin/api/audit?since=2026-12-04&until=2026-12-04"))).json()  # fmt: skip
        assert len(that_day["entries"]) == 3
        day_after = await (await console.browser.get(console.url("/admin/api/audit?since=2026-12-05"))).json()
        assert day_after["entries"] == []
        bad = await console.browser.get(console.url("/admin/api/audit?since=yesterday"))
        assert bad.status == 400 and (await bad.json())["message"] == "日期格式应为 2026-11-24（参数 since）"


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        yield w


def assert_chinese(status: int, body: dict, expected: int) -> None:
    assert status == expected, body
    shown = [body["message"], *body.get("problems_zh", [])]
    for text in shown:
        assert HAN.search(text), body
        assert not ENGLISH_SENTENCE.search(text), (text, body)


async def test_every_error_the_console_shows_is_chinese(world: PayWorld) -> None:
    calls = [
        ("GET", "/admin/api/orders?limit=abc", None, 400),
        ("GET", "/admin/api/metrics?day=tomorrow", None, 400),
        ("POST", "/admin/api/keywords/rules", "not json", 400),
        ("GET", "/admin/api/orders/WX000000", None, 404),
        ("GET", "/admin/api/no-such-thing", None, 404),
        ("DELETE", "/admin/api/orders", None, 405),
        ("PATCH", "/admin/api/keywords/nothing", {"enabled": True}, 404),
        ("POST", "/admin/api/keywords/rules", {"name": ""}, 422),
        ("POST", "/admin/api/coupon-templates", {"code": "X"}, 422),
        ("POST", "/admin/api/menu", {"button": [{"name": "名字太长了" * 3, "type": "click", "key": "A"}]}, 422),
        ("POST", "/admin/api/operators", {"username": "x y", "password": "p", "role": "viewer"}, 422),
        ("POST", "/admin/api/password", {"old_password": "a", "new_password": "b"}, 409),
        ("GET", "/admin/api/after-sales/AS000", None, 404),
        ("POST", "/admin/api/after-sales/AS000/refuse", {"reason": "不符合"}, 404),
        ("GET", "/admin/api/campaigns/nothing", None, 404),
        ("POST", "/admin/api/campaigns", {"name": "x"}, 422),
        ("PATCH", "/admin/api/coupon-templates/NOPE", {"active": False}, 404),
        ("POST", "/admin/api/outbox/999/retry", None, 404),
        ("DELETE", "/admin/api/nlu/examples/999", None, 404),
        ("POST", "/admin/api/nlu/examples", {"text": "", "intent": "nothing"}, 422),
        ("PUT", "/admin/api/segments/s1", {"tier": "gold-ish"}, 422),
        ("POST", "/admin/api/skus/NOPE/restock", {"quantity": 0}, 400),
        ("PUT", "/admin/api/group-offers/NOPE", {"price_fen": 100}, 404),
        ("POST", "/admin/api/qrcodes", {"purpose": "nothing"}, 422),
        ("GET", "/admin/api/members/o_nobody", None, 404),
        ("POST", "/admin/api/orders/WX0/ship", {"carrier": "yuantong", "tracking_no": "YT1234567890"}, 404),
        ("POST", "/admin/api/orders/WX0/ship", {"carrier": "yuantong", "tracking_no": "YT1"}, 400),
    ]
    leaks = []
    for method, path, body, expected in calls:
        kwargs = {"data": body} if isinstance(body, str) else {"json": body} if body is not None else {}
        status, answer = await world.admin(method, path, **kwargs)
        try:
            assert_chinese(status, answer, expected)
        except AssertionError:
            leaks.append((method, path, status, answer))
    assert not leaks, leaks
    status, answer = await world.admin("POST", "/admin/api/orders/WX0/ship", json={"carrier": "yuantong",
                                                                                    "tracking_no": "YT1"})  # fmt: skip
    assert answer["message"] == "运单号应为 6 到 32 位字母、数字或 -"
    rule = {"name": "营业时间", "keywords": ["营业时间"], "reply": "每天 9:00-21:00"}
    assert (await world.admin("POST", "/admin/api/keywords/rules", json=rule))[0] == 201
    status, answer = await world.admin("POST", "/admin/api/keywords/rules", json=rule)
    assert_chinese(status, answer, 409)
    assert answer["message"] == "已有名为「营业时间」的规则"
    world.sandbox.app[MP_STATE].inject_error("/cgi-bin/qrcode/create", 45009)
    status, answer = await world.admin("POST", "/admin/api/qrcodes", json={"purpose": "channel", "name": "春季海报"})
    assert_chinese(status, answer, 502)
    assert "45009" in answer["error"], "API clients keep the English detail"
