"""Segments and tiers synced to WeChat user tags, and personalised menus per tag, through the admin API, the CLI
and the chat, against the sandbox's MP emulator over HTTP (wechatpy as the real client)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.process.config import Config, TagsConfig
from bot.sandbox.mp_api import MP_STATE
from bot.sandbox.world import World
from store.catalog.products import Product, set_early_access
from store.core.db import write_transaction
from store.members.followers import record_follow
from store.profiles.compute import rebuild_profiles
from store.profiles.rules import ProfileRules
from tests.gateway_support import account_for
from tests.member_support import pay
from tests.pay_support import PayWorld, pay_world
from tests.sandbox_helpers import SandboxWeChatClient
from tests.support import ROOT, wxshop

NORMAL = [f"o_n{n:02d}" for n in range(60)]
VIP, BLACK_GOLD = "o_vip", "o_bg"
TAGGING = "/cgi-bin/tags/members/batchtagging"
DEFAULT_MENU = {"button": [{"name": "逛商城", "type": "click", "key": "BROWSE"}]}
PERKS_MENU = {"button": [{"name": "逛商城", "type": "click", "key": "BROWSE"},
                         {"name": "黑金专享", "type": "click", "key": "BLACK_GOLD_PERKS"}]}  # fmt: skip


def populate(world: PayWorld) -> None:
    """62 followers on WeChat and in the shop: 60 who never paid, a VIP and a 黑金 (paid for real), profiled."""
    now = world.clock.now()
    for openid in [*NORMAL, VIP, BLACK_GOLD]:
        world.sandbox.world.follow(openid)
        with write_transaction():
            record_follow(openid, now - timedelta(days=30))
    pay(VIP, 600000, "vip1", now - timedelta(days=5))
    pay(BLACK_GOLD, 6000000, "bg1", now - timedelta(days=5))
    rebuild_profiles(ProfileRules(), now)


def tagged(world: World, name: str) -> set[str]:
    tag = next(t for t in world.tags.listing() if t["name"] == name)
    return {o for o in [*NORMAL, VIP, BLACK_GOLD] if tag["id"] in world.tags.tags_of(o)}


def calls(world: PayWorld, path: str) -> int:
    return world.sandbox.app[MP_STATE].calls[path]


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        populate(w)
        yield w


async def test_a_segment_marked_sync_to_tag_is_tagged_in_batches_of_50_idempotently(world: PayWorld) -> None:
    assert (await world.admin("PUT", "/admin/api/segments/全部", json={}))[0] == 200
    assert (await world.admin("PUT", "/admin/api/segments/无此人群/sync-tag", json={}))[0] == 404
    status, body = await world.admin("PUT", "/admin/api/segments/全部/sync-tag", json={"tag": "超" * 11})
    assert status == 422 and "33 bytes, WeChat allows 30" in body["problems"][0]
    assert (await world.admin("PUT", "/admin/api/segments/全部/sync-tag", json={"sync": "yes"}))[0] == 400
    assert (await world.admin("POST", "/admin/api/segments/全部/sync-tag"))[0] == 404  # not marked yet

    status, body = await world.admin("PUT", "/admin/api/segments/全部/sync-tag", json={"tag": "全部粉丝"})
    assert status == 200 and body["tag"] == "全部粉丝" and body["tag_id"] is None
    status, body = await world.admin("POST", "/admin/api/segments/全部/sync-tag")
    assert status == 200, body
    [result] = body["results"]
    assert (result["tag"], result["tagged"], result["untagged"], result["left"]) == ("全部粉丝", 62, 0, 0)
    assert calls(world, TAGGING) == 2  # 50 + 12
    assert tagged(world.sandbox.world, "全部粉丝") == {*NORMAL, VIP, BLACK_GOLD}

    [again] = (await world.admin("POST", "/admin/api/segments/全部/sync-tag"))[1]["results"]
    assert (again["tagged"], again["untagged"], calls(world, TAGGING)) == (0, 0, 2)

    await world.admin("PUT", "/admin/api/segments/全部", json={"tier_at_least": "vip"})  # the segment narrows
    [narrowed] = (await world.admin("POST", "/admin/api/segments/全部/sync-tag"))[1]["results"]
    assert (narrowed["tagged"], narrowed["untagged"], narrowed["tag_id"]) == (0, 60, result["tag_id"])
    assert tagged(world.sandbox.world, "全部粉丝") == {VIP, BLACK_GOLD}

    status, body = await world.admin("POST", "/admin/api/tags/sync")  # everything, the tier tags built in
    assert status == 200
    assert {r["tag"]: r["tagged"] for r in body["results"]} == {"全部粉丝": 0, "VIP会员": 1, "黑金会员": 1}
    assert tagged(world.sandbox.world, "VIP会员") == {VIP}
    assert tagged(world.sandbox.world, "黑金会员") == {BLACK_GOLD}
    listed = {t["name"]: t for t in (await world.admin("GET", "/admin/api/tags"))[1]["tags"]}
    assert listed["全部粉丝"]["tagged"] == 2 and listed["全部粉丝"]["source"] == "segment"
    assert listed["黑金会员"]["source_name"] == "black_gold" and listed["黑金会员"]["last_error"] is None


async def test_a_sync_stopped_by_its_budget_or_by_wechat_resumes_where_it_stopped(migrated: Config) -> None:
    config = dataclasses.replace(migrated, tags=TagsConfig(batches_per_run=1, tier_tags=False))
    async with pay_world(config) as world:
        populate(world)
        await world.admin("PUT", "/admin/api/segments/全部", json={})
        await world.admin("PUT", "/admin/api/segments/全部/sync-tag", json={})
        [first] = (await world.admin("POST", "/admin/api/tags/sync"))[1]["results"]
        assert (first["tagged"], first["left"], first["error"]) == (50, 12, None)
        assert len(tagged(world.sandbox.world, "全部")) == 50

        world.sandbox.app[MP_STATE].lose_answers(TAGGING, 1)  # WeChat tags them, the answer never arrives
        [lost] = (await world.admin("POST", "/admin/api/tags/sync"))[1]["results"]
        assert lost["tagged"] == 0 and lost["left"] == 12 and lost["error"]
        assert len(tagged(world.sandbox.world, "全部")) == 62
        listed = (await world.admin("GET", "/admin/api/tags"))[1]["tags"]
        assert listed[0]["tagged"] == 50 and listed[0]["last_error"]

        [done] = (await world.admin("POST", "/admin/api/tags/sync"))[1]["results"]  # sent again: harmless
        assert (done["tagged"], done["left"], done["error"]) == (12, 0, None)
        assert calls(world, TAGGING) == 3 and calls(world, "/cgi-bin/tags/create") == 1

        world.sandbox.world.tags.delete(done["tag_id"])  # someone deletes the tag in WeChat's console
        [gone] = (await world.admin("POST", "/admin/api/tags/sync"))[1]["results"]
        assert gone["tag_id"] != done["tag_id"] and gone["tagged"] == 50 and gone["left"] == 12


async def test_a_tag_s_menu_is_published_after_the_default_and_trymatch_shows_it_to_members_only(
    world: PayWorld,
) -> None:
    await world.admin("POST", "/admin/api/tags/sync")
    status, body = await world.admin("GET", "/admin/api/menu?tag=黑金会员")
    assert status == 200 and body["tags"] == ["VIP会员", "黑金会员"]
    assert body["source"] == "default", "the test config has no [[menu.conditional]]: the default menu to start from"
    assert body["keys"]["BLACK_GOLD_PERKS"] == "black_gold_perks"
    assert (await world.admin("GET", "/admin/api/menu?tag=无此标签"))[0] == 404
    assert (await world.admin("POST", "/admin/api/menu?tag=无此标签", json=PERKS_MENU))[0] == 422
    bad = {"button": [{"name": "黑金专享会员福利", "type": "click", "key": "X"}]}
    status, body = await world.admin("POST", "/admin/api/menu?tag=黑金会员", json=bad)
    assert status == 422 and "24 bytes, WeChat allows 16" in body["problems"][0]

    status, body = await world.admin("POST", "/admin/api/menu?tag=黑金会员", json=PERKS_MENU)
    assert status == 502, "WeChat refuses a personalised menu before the default one (65303)"
    assert (await world.admin("POST", "/admin/api/menu", json=DEFAULT_MENU))[0] == 200
    status, first = await world.admin("POST", "/admin/api/menu?tag=黑金会员", json=PERKS_MENU)
    assert status == 200, first
    status, second = await world.admin("POST", "/admin/api/menu?tag=黑金会员", json=PERKS_MENU)
    assert second["menuid"] != first["menuid"]
    assert [m.menuid for m in world.sandbox.world.tags.menus()] == [second["menuid"]]  # the old one deleted
    status, body = await world.admin("GET", "/admin/api/menu?tag=黑金会员")
    assert body["source"] == "saved" and body["menu"] == PERKS_MENU

    client = SandboxWeChatClient(world.sandbox_url, world.config.wechat.app_id, world.config.wechat.app_secret)
    try:
        member = await asyncio.to_thread(client.menu.try_match, BLACK_GOLD)
        others = [await asyncio.to_thread(client.menu.try_match, openid) for openid in (VIP, NORMAL[0])]
    finally:
        client._http.close()
    assert [b["name"] for b in member["button"]] == ["逛商城", "黑金专享"]
    assert all([b["name"] for b in menu["button"]] == ["逛商城"] for menu in others)


async def test_the_cli_syncs_the_tags_and_publishes_every_menu(world: PayWorld, env: dict[str, str]) -> None:
    cli_env = {**env, "WXSHOP_WECHAT__API_BASE_URL": world.sandbox_url}
    config = str(ROOT / "config.toml")
    synced = await asyncio.to_thread(wxshop, "--config", config, "segments", "sync-tags", env=cli_env)
    assert synced.returncode == 0, synced.stderr
    assert "tag 黑金会员 (id " in synced.stdout and "+1 -0, done" in synced.stdout
    missing = await asyncio.to_thread(wxshop, "--config", config, "segments", "sync-tags", "无此", env=cli_env)
    assert missing.returncode == 2 and "no tag or segment named '无此'" in missing.stderr

    published = await asyncio.to_thread(wxshop, "--config", config, "menu", "publish", env=cli_env)
    assert published.returncode == 0, published.stderr
    lines = published.stdout.splitlines()
    assert lines[0] == "menu published: 3 button(s)" and lines[1].startswith("menu for tag 黑金会员 published: 3")
    client = SandboxWeChatClient(world.sandbox_url, world.config.wechat.app_id, world.config.wechat.app_secret)
    try:
        member = await asyncio.to_thread(client.menu.try_match, BLACK_GOLD)
        normal = await asyncio.to_thread(client.menu.try_match, NORMAL[0])
    finally:
        client._http.close()
    assert "黑金专享" in [b["name"] for b in member["button"]]
    assert "黑金专享" not in [b["name"] for b in normal["button"]]

    again = await asyncio.to_thread(wxshop, "--config", config, "menu", "publish", env=cli_env)
    assert again.returncode == 0, again.stderr
    assert len(world.sandbox.world.tags.menus()) == 1, "each publish replaces the tag's menu"


async def test_the_black_gold_button_answers_black_gold_members_only(world: PayWorld) -> None:
    from bot.sandbox.follower import FollowerSimulator

    dress = Product.get(Product.code == "P1")
    set_early_access(dress.id, "black_gold", world.clock.now() + timedelta(days=2))
    follower = FollowerSimulator(
        world.shop_url + world.config.server.wechat_path, account_for(world.config, "plain"), world.session,
        world.clock,
    )  # fmt: skip
    perks = (await follower.click(BLACK_GOLD, "BLACK_GOLD_PERKS")).shown
    assert perks.startswith("尊敬的黑金会员，您专享：88折、优先购权、专属客服。")
    assert "· 法式碎花连衣裙（" in perks and "前仅限黑金）" in perks
    assert (await follower.send_text(BLACK_GOLD, "黑金专享")).shown == perks
    refused = (await follower.click(NORMAL[0], "BLACK_GOLD_PERKS")).shown
    assert refused.startswith("黑金专享是黑金会员的专属权益") and "法式碎花连衣裙" not in refused
    assert "法式碎花连衣裙" not in (await follower.click(VIP, "BLACK_GOLD_PERKS")).shown


async def test_the_nightly_job_syncs_after_the_profiles(world: PayWorld) -> None:
    from bot.features import cron_entries, job_functions
    from bot.features.tags import job_deps
    from bot.web.runtime import RESOURCES
    from scheduler.tag_jobs import sync_wechat_tags

    entries = {job.name: job for job in cron_entries(world.config)}
    nightly, profiles = entries["wechat-tags"], entries["member-profiles"]
    assert (nightly.hour, nightly.minute) == (4, 40) and (profiles.hour, profiles.minute) == (4, 10)
    assert sync_wechat_tags in job_functions()
    deps = world.deps(tags=job_deps(world.config, world.app[RESOURCES]))
    lines = await sync_wechat_tags({"deps": deps})
    assert [line.split(" (id")[0] for line in lines] == ["tag VIP会员", "tag 黑金会员"]
    assert tagged(world.sandbox.world, "黑金会员") == {BLACK_GOLD}
    assert await sync_wechat_tags({"deps": world.deps()}) == [], "a worker without the gateway skips, logged"


async def test_the_chat_preview_shows_a_follower_the_menu_their_tags_match(migrated: Config) -> None:
    from tests.preview_support import demo_running, with_default_menu

    config = dataclasses.replace(with_default_menu(migrated), tag_menus={"黑金会员": tuple(PERKS_MENU["button"])})
    async with demo_running(config) as demo:
        member, other = await demo.new_follower(), await demo.new_follower()
        gateway = demo.gateway()
        try:
            await asyncio.to_thread(gateway.create_menu, DEFAULT_MENU)
            tag_id = await asyncio.to_thread(gateway.create_tag, "黑金会员")
            await asyncio.to_thread(gateway.tag_users, tag_id, [member])
            await asyncio.to_thread(gateway.add_conditional_menu, PERKS_MENU, tag_id)
        finally:
            gateway.close()
        _, mine = await demo.call("GET", f"state?openid={member}")
        _, theirs = await demo.call("GET", f"state?openid={other}")
        assert [b["name"] for b in mine["menu"]] == ["逛商城", "黑金专享"]
        assert "黑金专享" not in [b["name"] for b in theirs["menu"]]
        tapped = await demo.send(member, "click", key="BLACK_GOLD_PERKS")
        assert "黑金专享" in tapped["entries"][0]["text"], tapped["entries"][0]


async def test_followers_who_left_are_untagged_and_a_batch_wechat_refuses_for_them_is_not_stuck(
    world: PayWorld,
) -> None:
    from store.members.privacy import forget_follower

    await world.admin("PUT", "/admin/api/segments/全部", json={})
    await world.admin("PUT", "/admin/api/segments/全部/sync-tag", json={})
    await world.admin("POST", "/admin/api/segments/全部/sync-tag")
    for openid in NORMAL[:2]:  # they unfollow: the shop forgets them, WeChat may refuse their openids now
        world.sandbox.world.unfollow(openid)
        forget_follower(openid, world.clock.now())
    await world.admin("PUT", "/admin/api/segments/全部", json={"tier_at_least": "vip"})
    world.sandbox.app[MP_STATE].inject_error("/cgi-bin/tags/members/batchuntagging", 40003)
    [result] = (await world.admin("POST", "/admin/api/segments/全部/sync-tag"))[1]["results"]
    assert (result["untagged"], result["left"], result["error"]) == (58, 0, None)
    assert tagged(world.sandbox.world, "全部") == {*NORMAL[:2], VIP, BLACK_GOLD}, "WeChat keeps the leavers' tag"
    listed = {t["name"]: t for t in (await world.admin("GET", "/admin/api/tags"))[1]["tags"]}
    assert listed["全部"]["tagged"] == 2
