"""The admin sub-app's error contract, through the real HTTP API: a parameter the client got wrong is a 400 on every
route that takes one (never a 500 from deep in the driver), WeChat refusing a call is a 502, and the routes that
read ids accept every id a database row can have."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.process.config import Config
from bot.sandbox.mp_api import MP_STATE
from tests.pay_support import PayWorld, pay_world

HUGE = "99999999999999999999999"


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        yield w


@pytest.mark.parametrize(
    "path",
    [
        f"/admin/api/orders?before_id={HUGE}",
        "/admin/api/orders?limit=abc",
        f"/admin/api/after-sales?before_id={HUGE}",
        "/admin/api/after-sales?limit=-3",
        f"/admin/api/after-sales/stats?days={HUGE}",
        f"/admin/api/outbox?page={HUGE}",
        "/admin/api/outbox?per_page=0",
        f"/admin/api/outbox/{HUGE}",
        f"/admin/api/products?page={HUGE}",
        "/admin/api/products?per_page=１０",
        f"/admin/api/gifts?days={HUGE}",
    ],
)
async def test_a_bad_integer_is_a_400_naming_the_parameter(world: PayWorld, path: str) -> None:
    status, body = await world.admin("GET", path)
    assert status == 400, body
    name = path.rsplit("?", 1)[-1].split("=")[0] if "?" in path else "id"
    assert name in body["error"], body


async def test_the_largest_id_a_row_can_have_is_simply_not_found(world: PayWorld) -> None:
    status, body = await world.admin("GET", f"/admin/api/outbox/{2**63 - 1}")
    assert status == 404, body
    status, body = await world.admin("GET", f"/admin/api/orders?before_id={2**63 - 1}")
    assert status == 200 and body["orders"] == [], body


async def test_wechat_refusing_a_qrcode_is_a_502_and_nothing_is_stored(world: PayWorld) -> None:
    world.sandbox.app[MP_STATE].inject_error("/cgi-bin/qrcode/create", 45009)
    status, body = await world.admin("POST", "/admin/api/qrcodes", json={"purpose": "channel", "name": "春季海报"})
    assert status == 502, body
    assert "45009" in body["error"], body
    status, listed = await world.admin("GET", "/admin/api/qrcodes")
    assert status == 200 and listed["qrcodes"] == [], listed
