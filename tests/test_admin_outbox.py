"""The outbox in the admin API: lists with filters and pages, figures after a real dispatch against the MP API
emulator, one notice's detail, and sending a dropped notice again exactly once."""

from __future__ import annotations

import asyncio

import pytest

from bot.jobs.outbox_service import template_quota
from bot.process.config import Config
from tests.gateway_support import running
from tests.outbox_support import outbox_config, outbox_rig, queue
from tests.test_engine import TOKEN, with_admin

AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEMPLATE_SEND = "/cgi-bin/message/template/send"


@pytest.fixture
def config(migrated: Config) -> Config:
    return with_admin(outbox_config(migrated))


async def test_operators_see_the_outbox_and_send_a_dropped_notice_again(config: Config) -> None:
    async with outbox_rig(config) as rig, running(config, rig.clock) as shop:
        url = shop.server.make_url
        rig.world.follow("o_a")
        rig.world.follow("o_left")
        rig.world.unfollow("o_left")
        paid = queue("o_a", "paid", rig.clock.now())
        queue("o_a", "shipped", rig.clock.now())
        left = queue("o_left", "paid", rig.clock.now())
        await rig.drain()

        async def get(path: str, expect: int = 200) -> dict:
            response = await shop.session.get(url(path), headers=AUTH)
            assert response.status == expect, await response.text()
            return await response.json()

        assert (await shop.session.get(url("/admin/api/outbox"))).status == 401
        everything = await get("/admin/api/outbox")
        assert everything["total"] == 3 and [n["id"] for n in everything["items"]] == [left, left - 1, paid]
        dropped = await get("/admin/api/outbox?status=dropped")
        assert [n["id"] for n in dropped["items"]] == [left]
        assert dropped["items"][0]["reason"].startswith("not_following: 43004")
        assert (await get("/admin/api/outbox?kind=paid&openid=o_a"))["total"] == 1
        second = await get("/admin/api/outbox?per_page=2&page=2")
        assert (second["total"], [n["id"] for n in second["items"]]) == (3, [paid])
        await get("/admin/api/outbox?status=lost", 400)
        await get("/admin/api/outbox?page=0", 400)

        stats = await get("/admin/api/outbox/stats")
        assert stats["by_status"]["sent"] == 2 and stats["by_status"]["dropped"] == 1
        assert stats["by_channel"] == {"template": 2}
        used = await template_quota(config, rig.resources).used(rig.clock.now())
        assert stats["template_quota"]["used"] == used == rig.state.calls[TEMPLATE_SEND] == 3
        assert stats["template_quota"]["limit"] == config.shop.template_daily_quota
        assert stats["oldest_pending_age_s"] is None

        detail = await get(f"/admin/api/outbox/{paid}")
        assert detail["fields"]["order_no"] == "WX20261124001" and detail["msgid"]
        await get("/admin/api/outbox/999999", 404)
        await get("/admin/api/outbox/nope", 400)
        await get("/admin/api/outbox/99999999999999999999999", 400)

        sent_again = await shop.session.post(url(f"/admin/api/outbox/{paid}/retry"), headers=AUTH)
        assert sent_again.status == 409, "a sent notice is never sent again"
        rig.world.follow("o_left")  # they came back: the notice can reach them now
        twice = await asyncio.gather(
            *(shop.session.post(url(f"/admin/api/outbox/{left}/retry"), headers=AUTH) for _ in range(2))
        )
        assert sorted(r.status for r in twice) == [200, 409], "concurrent retries queue it once"
        rig.clock.advance(seconds=90)
        assert (await get("/admin/api/outbox/stats"))["oldest_pending_age_s"] == 90
        await rig.drain()
        await rig.drain()
        assert [d.kind for d in rig.world.delivered("o_left")] == ["template"]
        assert (await get(f"/admin/api/outbox/{left}"))["status"] == "sent"
        assert (await shop.session.post(url("/admin/api/outbox/999999/retry"), headers=AUTH)).status == 404

