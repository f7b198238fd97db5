"""Coupon templates through the admin API on a real server: created (every problem listed, a taken code refused),
given to a follower, counted by what became of the coupons (used by a paid order, expired by the clock), switched
off (no more issued, the issued ones kept)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.process.config import Config
from store.core.db import close_database, open_database, write_transaction
from store.promotions.coupons import lock_coupons, use_coupons
from tests.console_support import BEARER
from tests.gateway_support import Running, running
from tests.test_engine import with_admin

TEMPLATE = {"code": "NEW30", "kind": "threshold", "value": 3000, "threshold_fen": 30000, "valid_days": 7}


async def call(shop: Running, method: str, path: str, expect: int, **kwargs: Any) -> dict:
    response = await shop.session.request(method, shop.server.make_url(f"/admin/api/{path}"), headers=BEARER, **kwargs)
    assert response.status == expect, await response.text()
    return await response.json()


def spend(config: Config, openid: str, code: str, now: datetime) -> None:
    """The coupon locked by an order that is then paid (the store's own steps, as checkout and payment take them)."""
    open_database(config.database.url, config.var_dir)
    try:
        with write_transaction():
            assert lock_coupons(openid, [code], "O_TEST_1", now) == []
            assert use_coupons("O_TEST_1", now) == 1
    finally:
        close_database()


async def test_templates_are_created_issued_counted_and_switched_off(migrated: Config) -> None:
    async with running(with_admin(migrated)) as shop:
        for openid in ("o_a", "o_b", "o_c"):
            await shop.follower().follow(openid)
        created = await call(shop, "POST", "coupon-templates", 201, json=TEMPLATE)
        assert (created["title"], created["issued"], created["use_rate"]) == ("满300减30", 0, None)
        taken = await call(shop, "POST", "coupon-templates", 409, json=TEMPLATE)
        assert "exists already" in taken["error"]
        wrong = {"code": "坏 码", "kind": "threshold", "value": 3000, "threshold_fen": 100}
        bad = await call(shop, "POST", "coupon-templates", 422, json={**wrong, "x": 1})
        assert bad["problems"] == ["x: unknown field"]
        bad = await call(shop, "POST", "coupon-templates", 422, json=wrong)
        assert bad["problems"] == [
            "code must be 1-32 letters, digits, '_' or '-', starting with a letter or digit",
            "threshold_fen must be more than value",
        ]
        percent = {"code": "VIP85", "kind": "percent", "value": 85, "title": "会员85折"}
        await call(shop, "POST", "coupon-templates", 201, json=percent)
        await call(shop, "POST", "coupon-templates", 400, data=b"{oops")

        first = await call(shop, "POST", "coupon-templates/NEW30/issue", 201, json={"openid": "o_a"})
        await call(shop, "POST", "coupon-templates/NEW30/issue", 201, json={"openid": "o_b"})
        await call(shop, "POST", "coupon-templates/NEW30/issue", 404, json={"openid": "o_nobody"})
        await call(shop, "POST", "coupon-templates/NEW30/issue", 422, json={"openid": ""})
        spend(migrated, "o_a", first["code"], shop.clock.now())
        shop.clock.advance(days=3)
        await call(shop, "POST", "coupon-templates/NEW30/issue", 201, json={"openid": "o_c"})
        shop.clock.advance(days=5)  # the first two are past their 7 days, the third is not

        templates = (await call(shop, "GET", "coupon-templates", 200))["templates"]
        listed = {t["code"]: t for t in templates}
        assert [t["code"] for t in templates][:2] == ["VIP85", "NEW30"], "newest first (the gift's seeded before)"
        new30 = listed["NEW30"]
        counts = [new30[k] for k in ("issued", "available", "locked", "used", "expired")]
        assert counts == [3, 1, 0, 1, 1] and new30["use_rate"] == 1 / 3, new30
        assert (listed["VIP85"]["title"], listed["VIP85"]["issued"]) == ("会员85折", 0)

        off = await call(shop, "PATCH", "coupon-templates/NEW30", 200, json={"active": False})
        assert off == {"code": "NEW30", "active": False}
        await call(shop, "POST", "coupon-templates/NEW30/issue", 409, json={"openid": "o_a"})
        again = {t["code"]: t for t in (await call(shop, "GET", "coupon-templates", 200))["templates"]}
        assert (again["NEW30"]["active"], again["NEW30"]["available"]) == (False, 1), "issued coupons are kept"
        await call(shop, "PATCH", "coupon-templates/NOPE", 404, json={"active": True})
        await call(shop, "PATCH", "coupon-templates/NEW30", 422, json={"active": 1})

