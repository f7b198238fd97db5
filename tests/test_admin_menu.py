"""The menu editor's admin API against the sandbox's menu API: the draft is WeChat's menu, else config.toml's; a
publish goes through the same checks as `wxshop menu push` (nothing sent when they fail) and reaches WeChat."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.process.config import Config
from bot.sandbox.mp_api import MP_STATE
from tests.pay_support import PayWorld, pay_world

MENU = {
    "button": [
        {"name": "上新", "type": "click", "key": "BROWSE"},
        {"name": "我的", "sub_button": [
            {"name": "我的订单", "type": "click", "key": "MY_ORDERS"},
            {"name": "官网", "type": "view", "url": "https://shop.example/"},
        ]},
    ]
}  # fmt: skip


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        yield w


async def test_without_a_published_menu_the_draft_is_config_toml_s(world: PayWorld) -> None:
    status, body = await world.admin("GET", "/admin/api/menu")
    assert status == 200, body
    assert body["source"] == "config"
    assert [b["name"] for b in body["menu"]["button"]] == [b["name"] for b in world.config.menu]
    assert body["limits"]["top_name_bytes"] == 16 and body["limits"]["sub_name_bytes"] == 60
    assert body["keys"]["MY_ORDERS"] == "orders"


async def test_a_valid_menu_is_published_and_read_back(world: PayWorld) -> None:
    status, body = await world.admin("POST", "/admin/api/menu", json=MENU)
    assert status == 200, body
    assert body["published"] == 2
    published = world.sandbox.world.menu()
    assert published is not None
    assert [b["name"] for b in published["button"]] == ["上新", "我的"]
    assert published["button"][1]["sub_button"][1]["url"] == "https://shop.example/"
    status, body = await world.admin("GET", "/admin/api/menu")
    assert body["source"] == "wechat"
    assert body["menu"] == MENU


async def test_an_over_long_name_is_refused_with_every_problem_and_nothing_is_sent(world: PayWorld) -> None:
    bad = {"button": [{"name": "这是一个很长的菜单名字", "type": "click", "key": "BROWSE"},
                      {"name": "官网", "type": "view", "url": "ftp://x"}]}  # fmt: skip
    status, body = await world.admin("POST", "/admin/api/menu", json=bad)
    assert status == 422, body
    assert len(body["problems"]) == 2
    assert "33 bytes, WeChat allows 16" in body["problems"][0]
    assert world.sandbox.world.menu() is None


@pytest.mark.parametrize("body", [[1, 2], {"button": "x"}, {"button": [{"name": "a", "sub_button": ["b"]}]}])
async def test_a_body_of_the_wrong_shape_is_a_400(world: PayWorld, body: object) -> None:
    status, answer = await world.admin("POST", "/admin/api/menu", json=body)
    assert status == 400, answer


async def test_wechat_refusing_the_menu_is_a_502(world: PayWorld) -> None:
    world.sandbox.app[MP_STATE].inject_error("/cgi-bin/menu/create", 45009)
    status, body = await world.admin("POST", "/admin/api/menu", json=MENU)
    assert status == 502, body
    assert world.sandbox.world.menu() is None
