"""The 砍价 and 海报 demo in the chat preview: a follower starts a bargain, simulated friends follow through its
share code and each cut once over real HTTP, the bargain reaches its floor and the starter buys at it; a poster
asked for in the preview shows as an image served by the preview."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from bot.process.config import Config
from bot.sandbox.group_friends import pay_as
from store.bargain.models import COMPLETE, ORDERED, Bargain
from store.bargain.operations import OfferInput, set_offer
from store.core.db import open_database
from store.orders.checkout import PAID, Order
from store.outbox.notices import Notice
from tests.order_support import START, make_shop
from tests.preview_support import Demo, demo_running, with_default_menu


@pytest.fixture
async def demo(migrated: Config) -> AsyncIterator[Demo]:
    async with demo_running(with_default_menu(migrated)) as running:
        open_database(running.config.database.url, running.config.var_dir)
        shop = make_shop()
        set_offer(OfferInput(shop.dress, floor_fen=9900, helpers=3, window_hours=24), START)
        yield running


async def test_simulated_friends_cut_the_bargain_to_its_floor(demo: Demo) -> None:
    starter = await demo.new_follower()
    started = await demo.send(starter, "text", text="砍价 P1-M")
    bargain_no = re.search(r"/k/(K\d{18})", str(started))[1]  # type: ignore[index]

    status, body = await demo.call("POST", "bargain-friends", {"bargain_no": bargain_no, "count": 2})
    assert status == 200 and len(body["friends"]) == 2, body
    assert Bargain.get(Bargain.bargain_no == bargain_no).cuts == 2
    status, body = await demo.call("POST", "bargain-friends", {"bargain_no": bargain_no})
    assert status == 200, body
    bargain = Bargain.get(Bargain.bargain_no == bargain_no)
    assert (bargain.cuts, bargain.price_fen, bargain.status) == (3, 9900, COMPLETE), "the third friend of three"
    assert Notice.select().where(Notice.kind == "bargain_complete", Notice.openid == starter).count() == 1

    bought = await demo.send(starter, "text", text="砍价下单 张三 13812345678 广东省深圳市南山区科技园路1号")
    shown = bought["delivery"]["shown"]
    assert "¥99" in shown, shown
    assert await pay_as(demo.session, demo.sandbox, demo.base, re.search(r"/pay/(\w+)", shown)[1], starter)  # type: ignore[index]
    assert [(o.status, o.payable_fen) for o in Order.select()] == [(PAID, 9900)]
    assert Bargain.get(Bargain.bargain_no == bargain_no).status == ORDERED
    status, refused = await demo.call("POST", "bargain-friends", {"bargain_no": bargain_no, "count": 11})
    assert status == 400, refused


async def test_a_poster_shows_as_an_image_in_the_preview(demo: Demo) -> None:
    sharer = await demo.new_follower()
    made = await demo.send(sharer, "text", text="生成海报")
    assert "专属海报已发送" in made["delivery"]["shown"], made
    _, state = await demo.call("GET", f"state?openid={sharer}")
    entries = [e for e in state.get("entries", state.get("history", [])) if e.get("kind") == "image"]
    assert entries, state
    async with demo.session.get(f"{demo.base}{entries[-1]['src']}") as image:
        assert image.status == 200 and image.content_type == "image/png"
        assert (await image.read()).startswith(b"\x89PNG")
