"""The MP emulator's user tags and personalised menus, driven by wechatpy's `client.tag` and `client.menu` over
loopback HTTP, with WeChat's limits and error codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot.sandbox.mp_api import create_mp_app
from bot.sandbox.world import World
from store.core.clock import ManualClock
from tests.sandbox_helpers import SandboxWeChatClient
from tests.test_sandbox_mp_api import APP_ID, SECRET, call, errcode_of

MENU = {"button": [{"type": "click", "name": "逛商城", "key": "BROWSE"}]}
PERKS = {"button": [{"type": "click", "name": "逛商城", "key": "BROWSE"},
                    {"type": "click", "name": "黑金专享", "key": "BLACK_GOLD_PERKS"}]}  # fmt: skip


@pytest.fixture
def world() -> World:
    world = World(APP_ID, SECRET, ManualClock())
    for n in range(60):
        world.follow(f"o_fan_{n:02d}")
    return world


@pytest.fixture
async def client(world: World) -> AsyncIterator[SandboxWeChatClient]:
    server = TestServer(create_mp_app(world), host="127.0.0.1")
    await server.start_server()
    client = SandboxWeChatClient(str(server.make_url("")).rstrip("/"), APP_ID, SECRET)
    yield client
    client._http.close()
    await server.close()


def fans(first: int, last: int) -> list[str]:
    return [f"o_fan_{n:02d}" for n in range(first, last)]


async def test_tags_are_created_listed_renamed_and_deleted(client: SandboxWeChatClient) -> None:
    created = await call(client.tag.create, "黑金会员")
    assert created["name"] == "黑金会员" and created["id"] >= 100
    other = await call(client.tag.create, "VIP会员")
    assert other["id"] == created["id"] + 1
    listed = {t["name"]: t for t in await call(client.tag.get)}
    assert listed["星标组"]["id"] == 2 and listed["黑金会员"]["count"] == 0
    await call(client.tag.update, other["id"], "VIP")
    assert "VIP" in {t["name"] for t in await call(client.tag.get)}
    await call(client.tag.delete, other["id"])
    assert {t["name"] for t in await call(client.tag.get)} == {"星标组", "黑金会员"}


@pytest.mark.parametrize(
    ("name", "errcode"),
    [("", 45157), ("黑金会员", 45157), ("星标组", 45157), ("超" * 11, 45158)],  # 33 bytes
)
async def test_a_bad_tag_name_is_refused(client: SandboxWeChatClient, name: str, errcode: int) -> None:
    await call(client.tag.create, "黑金会员")
    assert await errcode_of(client.tag.create, name) == errcode


async def test_an_account_creates_at_most_100_tags(client: SandboxWeChatClient) -> None:
    for n in range(100):
        await call(client.tag.create, f"t{n}")
    assert await errcode_of(client.tag.create, "one more") == 45056


async def test_system_tags_cannot_change_and_unknown_ids_are_refused(client: SandboxWeChatClient) -> None:
    assert await errcode_of(client.tag.update, 2, "星标") == 45058
    assert await errcode_of(client.tag.delete, 2) == 45058
    assert await errcode_of(client.tag.update, 999, "x") == 45159
    assert await errcode_of(client.tag.delete, 999) == 45159


async def test_batch_tagging_takes_at_most_50_known_openids(client: SandboxWeChatClient, world: World) -> None:
    tag = (await call(client.tag.create, "黑金会员"))["id"]
    assert await errcode_of(client.tag.tag_user, tag, fans(0, 51)) == 40032
    assert await errcode_of(client.tag.tag_user, tag, []) == 40032
    assert await errcode_of(client.tag.tag_user, tag, ["o_stranger"]) == 40003
    assert await errcode_of(client.tag.tag_user, 999, fans(0, 2)) == 45159
    await call(client.tag.tag_user, tag, fans(0, 50))
    await call(client.tag.tag_user, tag, fans(0, 2))  # again: nothing changes, no error
    assert await call(client.tag.get_user_tag, "o_fan_01") == [tag]
    page = await call(client.tag.get_tag_users, tag)
    assert page["count"] == 50 and page["data"]["openid"] == fans(0, 50) and page["next_openid"] == ""
    await call(client.tag.untag_user, tag, fans(0, 10))
    assert (await call(client.tag.get_tag_users, tag))["count"] == 40
    assert await call(client.tag.get_user_tag, "o_fan_01") == []
    assert world.tags.tags_of("o_fan_10") == [tag]
    assert await errcode_of(client.tag.get_user_tag, "o_stranger") == 40003


async def test_a_follower_carries_at_most_20_tags_and_the_batch_is_all_or_nothing(
    client: SandboxWeChatClient, world: World
) -> None:
    ids = [(await call(client.tag.create, f"t{n}"))["id"] for n in range(21)]
    for tag in ids[:20]:
        await call(client.tag.tag_user, tag, ["o_fan_00"])
    assert await errcode_of(client.tag.tag_user, ids[20], ["o_fan_01", "o_fan_00"]) == 45059
    assert world.tags.tags_of("o_fan_01") == []
    user = await call(client.user.get, "o_fan_00")
    assert sorted(user["tagid_list"]) == sorted(ids[:20])


async def test_a_conditional_menu_needs_a_default_menu_and_a_tag_rule(client: SandboxWeChatClient) -> None:
    tag = (await call(client.tag.create, "黑金会员"))["id"]
    rule: dict[str, Any] = {"matchrule": {"tag_id": str(tag)}}
    assert await errcode_of(client.menu.add_conditional, {**PERKS, **rule}) == 65303
    await call(client.menu.create, MENU)
    assert await errcode_of(client.menu.add_conditional, {**PERKS, "matchrule": {}}) == 65304
    assert await errcode_of(client.menu.add_conditional, {**PERKS, "matchrule": {"sex": "1"}}) == 65320
    assert await errcode_of(client.menu.add_conditional, {**PERKS, "matchrule": {"tag_id": "999"}}) == 45159
    too_long = {"button": [{"type": "click", "name": "黑金专享会员福利", "key": "K"}], **rule}  # 24 bytes
    assert await errcode_of(client.menu.add_conditional, too_long) == 40018
    menuid = (await call(client.menu.add_conditional, {**PERKS, **rule}))["menuid"]
    got = await call(client.menu.get)
    assert got["conditionalmenu"][0]["menuid"] == menuid
    assert got["conditionalmenu"][0]["matchrule"] == {"tag_id": str(tag)}
    assert await errcode_of(client.menu.del_conditional, "1") == 65301
    await call(client.menu.del_conditional, menuid)
    assert "conditionalmenu" not in await call(client.menu.get)


async def test_trymatch_shows_the_tag_s_menu_to_its_members_only(client: SandboxWeChatClient) -> None:
    tag = (await call(client.tag.create, "黑金会员"))["id"]
    await call(client.menu.create, MENU)
    await call(client.menu.add_conditional, {**PERKS, "matchrule": {"tag_id": str(tag)}})
    await call(client.tag.tag_user, tag, ["o_fan_00"])
    member = await call(client.menu.try_match, "o_fan_00")
    assert [b["name"] for b in member["button"]] == ["逛商城", "黑金专享"]
    other = await call(client.menu.try_match, "o_fan_01")
    assert [b["name"] for b in other["button"]] == ["逛商城"]
    assert await errcode_of(client.menu.try_match, "o_stranger") == 65302
    await call(client.menu.delete)  # the default menu goes, and the personalised ones with it
    assert await errcode_of(client.menu.try_match, "o_fan_00") == 46003
    await call(client.menu.create, MENU)
    assert [b["name"] for b in (await call(client.menu.try_match, "o_fan_00"))["button"]] == ["逛商城"]
