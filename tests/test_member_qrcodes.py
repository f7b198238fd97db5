"""Referral and channel QR codes and the member admin API: codes created through the admin API against the MP
emulator's qrcode/create, scanned in the sandbox World (subscribe with qrscene_ for a new follower, SCAN for an
existing one), attributed first touch wins, and counted per code for the funnel and commission; a gift template
that does not exist stops the server."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from bot.process.config import Config, ConfigError
from bot.sandbox.follower import FollowerSimulator
from store.members.followers import Follower
from tests.gateway_support import account_for, running
from tests.member_support import pay
from tests.pay_support import PayWorld, pay_world


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        yield w


def simulator(w: PayWorld) -> FollowerSimulator:
    url = f"{w.shop_url}{w.config.server.wechat_path}"
    return FollowerSimulator(url, account_for(w.config, "plain"), w.session, w.clock, world=w.sandbox.world)


async def scan(w: PayWorld, openid: str, ticket: str) -> str:
    """The follower scans the code in WeChat: the World says which event WeChat pushes; we deliver it."""
    pushed = w.sandbox.world.scan(openid, ticket)
    delivery = await simulator(w).send_event(openid, pushed.event, pushed.event_key, Ticket=ticket)
    assert not delivery.failed, delivery.error
    return delivery.shown


def scene_of(openid: str) -> str | None:
    return Follower.get(Follower.openid == openid).source_scene


async def test_codes_attribute_followers_first_touch_wins(world: PayWorld) -> None:
    w = world
    status, channel = await w.admin(
        "POST", "/admin/api/qrcodes", json={"purpose": "channel", "name": "春季海报", "scene": "spring_poster"}
    )
    assert status == 201, channel
    assert channel["permanent"] and channel["ticket"] and channel["image_url"].endswith(channel["ticket"])
    assert w.sandbox.world.scan_ticket(channel["ticket"]) == "spring_poster", "created at WeChat for that scene"

    await simulator(w).follow("o_ref")
    status, referral = await w.admin(
        "POST", "/admin/api/qrcodes", json={"purpose": "referrer", "name": "老顾客推荐", "referrer": "o_ref"}
    )
    assert status == 201 and referral["scene"].startswith("ref_") and referral["referrer"] == "o_ref"
    status, temporary = await w.admin(
        "POST", "/admin/api/qrcodes", json={"purpose": "channel", "name": "门店", "expire_seconds": 86400}
    )
    assert status == 201 and not temporary["permanent"] and temporary["expires_at"]

    status, taken = await w.admin("POST", "/admin/api/qrcodes", json={"purpose": "channel", "name": "x",
                                                                       "scene": "spring_poster"})  # fmt: skip
    assert status == 409, taken
    status, bad = await w.admin("POST", "/admin/api/qrcodes", json={"purpose": "friend", "referrer": "o_nobody"})
    assert status == 422 and len(bad["problems"]) == 3, bad

    assert "新人礼包" in await scan(w, "o_new", channel["ticket"]), "a new follower through the poster"
    assert scene_of("o_new") == "spring_poster"
    assert "欢迎回到" in await scan(w, "o_new", referral["ticket"]), "already following: SCAN"
    assert scene_of("o_new") == "spring_poster", "first touch wins"

    await simulator(w).follow("o_plain")  # came by search: no scene
    assert scene_of("o_plain") is None
    await scan(w, "o_plain", referral["ticket"])
    assert scene_of("o_plain") == referral["scene"], "an existing follower's first QR touch attributes them"
    await scan(w, "o_ref", referral["ticket"])  # the referrer scanning their own code earns nothing

    await simulator(w).unfollow("o_new")
    pay("o_plain", 25900, "QR1", w.clock.now())
    status, listed = await w.admin("GET", "/admin/api/qrcodes")
    assert status == 200
    by_scene = {code["scene"]: code for code in listed["qrcodes"]}
    assert {k: by_scene["spring_poster"][k] for k in ("followers", "following", "buyers", "paid_fen")} == {
        "followers": 1, "following": 0, "buyers": 0, "paid_fen": 0
    }  # fmt: skip
    assert {k: by_scene[referral["scene"]][k] for k in ("purpose", "referrer", "followers", "buyers", "paid_fen")} == {
        "purpose": "referrer", "referrer": "o_ref", "followers": 1, "buyers": 1, "paid_fen": 25900
    }  # fmt: skip
    assert by_scene[temporary["scene"]]["followers"] == 0

    status, member = await w.admin("GET", "/admin/api/members/o_plain")
    assert status == 200
    assert member["source_scene"] == referral["scene"] and member["tier"] == "normal"
    assert member["total_spend_fen"] == 25900 and member["points"] == 259
    assert member["gift"]["claimed_at"] is None and [c["source"] for c in member["coupons"]] == ["gift"]
    assert (await w.admin("GET", "/admin/api/members/o_nobody"))[0] == 404


async def test_an_unknown_gift_template_stops_the_server(migrated: Config) -> None:
    config = dataclasses.replace(migrated, shop=dataclasses.replace(migrated.shop, gift_coupons=("NOPE99",)))
    with pytest.raises(ConfigError, match="no coupon template 'NOPE99'"):
        async with running(config):
            pass
