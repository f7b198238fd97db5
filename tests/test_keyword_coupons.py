"""Keyword rules that give coupons: a `{type="coupon", code=TEMPLATE}` reply issues a real coupon of the template
once per follower per rule, within the template's stock and while it is active, and says what it gives and until
when; templates with a stock through the admin API; races in the store."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from bot.process.config import Config, ConfigError, load
from store.core.clock import ManualClock
from store.core.db import open_database
from store.promotions.configured_templates import ConfiguredTemplate, seed_configured_templates
from store.promotions.coupons import Coupon, CouponTemplate, create_template
from store.promotions.keyword_coupons import ALREADY, GONE, ISSUED, KeywordCouponGrant, grant_coupon
from tests.gateway_support import running
from tests.order_support import START, race
from tests.support import wxshop
from tests.test_engine import TOKEN, with_admin

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def call(shop: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    response = await shop.session.request(method, shop.server.make_url(path), json=body, headers=AUTH)
    return response.status, await response.json()


async def test_a_keyword_gives_a_real_coupon_once_per_follower_within_stock(migrated: Config) -> None:
    clock = ManualClock()
    async with running(with_admin(migrated), clock) as shop:
        status, body = await call(shop, "POST", "/admin/api/coupon-templates", {
            "code": "D11", "kind": "threshold", "value": 1500, "threshold_fen": 10000, "valid_days": 3, "stock": -1})
        assert status == 422 and any("stock" in p for p in body["problems"]), body
        status, body = await call(shop, "POST", "/admin/api/coupon-templates", {
            "code": "D11", "kind": "threshold", "value": 1500, "threshold_fen": 10000, "valid_days": 3, "stock": 2})
        assert status == 201 and body["stock"] == 2, body
        rule = {"name": "双十一领券", "keywords": ["双十一"], "reply": {"type": "coupon", "code": "D11"}}
        status, body = await call(shop, "POST", "/admin/api/keywords", {"rules": [rule]})
        assert status == 200, body

        follower = shop.follower()
        first = (await follower.send_text("o_k1", "双十一")).shown
        until = clock.now() + timedelta(days=3)
        assert first.startswith("🎁 送您一张优惠券：满100减15，"), first
        assert f"{until:%m月%d日 %H:%M}前下单可用" in first, first
        open_database(migrated.database.url, migrated.var_dir)
        [coupon] = Coupon.select().where(Coupon.openid == "o_k1")
        assert coupon.source == "keyword" and coupon.expires_at == until
        again = (await follower.send_text("o_k1", "双十一")).shown
        assert again.startswith("您已经领过这张优惠券啦：满100减15") and f"{until:%m月%d日 %H:%M}前可用" in again, again
        assert Coupon.select().where(Coupon.openid == "o_k1").count() == 1
        mine = (await follower.send_text("o_k1", "我的优惠券")).shown
        assert "满100减15" in mine, mine

        assert (await follower.send_text("o_k2", "双十一")).shown.startswith("🎁 送您一张优惠券")
        gone = (await follower.send_text("o_k3", "双十一")).shown
        assert "满100减15已经领完啦" in gone, gone
        assert Coupon.select().where(Coupon.openid == "o_k3").count() == 0
        assert CouponTemplate.get(CouponTemplate.code == "D11").stock == 0

        status, _ = await call(shop, "POST", "/admin/api/coupon-templates", {
            "code": "OPEN5", "kind": "fixed", "value": 500})
        rule = {"name": "暗号", "keywords": ["芝麻开门"], "reply": {"type": "coupon", "code": "OPEN5"}}
        assert (await call(shop, "POST", "/admin/api/keywords", {"rules": [rule]}))[0] == 200
        status, _ = await call(shop, "PATCH", "/admin/api/coupon-templates/OPEN5", {"active": False})
        assert status == 200
        closed = (await follower.send_text("o_k4", "芝麻开门")).shown
        assert "活动已经结束" in closed and Coupon.select().where(Coupon.openid == "o_k4").count() == 0, closed


def test_racing_messages_of_one_follower_get_one_coupon(migrated: Config) -> None:
    open_database(migrated.database.url, migrated.var_dir)
    create_template("RACE1", "fixed", 300, START, valid_days=5)
    results = race(8, 8, lambda i: grant_coupon("o_racer", "抢券", "RACE1", START).outcome)
    assert sorted(results) == [ALREADY] * 7 + [ISSUED], results
    assert Coupon.select().where(Coupon.openid == "o_racer").count() == 1
    assert KeywordCouponGrant.select().count() == 1


def test_a_template_stock_is_never_overdrawn(migrated: Config) -> None:
    open_database(migrated.database.url, migrated.var_dir)
    create_template("FEW3", "fixed", 300, START, valid_days=5, stock=3)
    results = race(8, 12, lambda i: grant_coupon(f"o_many_{i}", "抢券", "FEW3", START).outcome)
    assert results.count(ISSUED) == 3 and results.count(GONE) == 9, results
    assert Coupon.select().count() == 3 and CouponTemplate.get(CouponTemplate.code == "FEW3").stock == 0
    assert grant_coupon("o_many_0", "另一条规则", "FEW3", START).outcome == GONE
    assert KeywordCouponGrant.select().count() == 3, "a follower turned away holds no grant: they may try again"


def test_configured_templates_are_checked_whole_and_seeded_once(migrated: Config, tmp_path: Any) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[coupons]]\ncode = "D11"\nkind = "threshold"\nvalue = 1500\nstock = -3\n\n'
                   '[[coupons]]\ncode = "X"\nkind = "fixed"\nvalu = 5\n', encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load(bad, env={})
    message = str(caught.value)
    assert "coupons[1] (D11): a threshold coupon needs threshold_fen > 0" in message, message
    assert "coupons[1] (D11): stock must be >= 0" in message and "coupons[2] (X): valu: unknown field" in message

    good = tmp_path / "good.toml"
    good.write_text('[[coupons]]\ncode = "D11"\ntitle = "双十一 满100减15"\nkind = "threshold"\nvalue = 1500\n'
                    'threshold_fen = 10000\nvalid_days = 3\nstock = 2\n', encoding="utf-8")  # fmt: skip
    config = load(good, env={})
    assert config.coupons[0].code == "D11" and config.coupons[0].stock == 2
    open_database(migrated.database.url, migrated.var_dir)
    assert seed_configured_templates(config.coupons, START) == ["D11"]
    CouponTemplate.update(stock=0).where(CouponTemplate.code == "D11").execute()
    assert seed_configured_templates(config.coupons, START) == [], "an existing template is left as it is"
    template = CouponTemplate.get(CouponTemplate.code == "D11")
    kept = (template.title, template.value, template.threshold_fen, template.stock)
    assert kept == ("双十一 满100减15", 1500, 10000, 0)


async def test_the_server_seeds_configured_templates_at_start_up(migrated: Config) -> None:
    template = ConfiguredTemplate(code="START8", kind="fixed", value=800, valid_days=2, stock=5)
    async with running(with_admin(dataclasses.replace(migrated, coupons=(template,)))) as shop:
        open_database(migrated.database.url, migrated.var_dir)
        assert CouponTemplate.get(CouponTemplate.code == "START8").stock == 5
        rule = {"name": "开业", "keywords": ["开业大吉"], "reply": {"type": "coupon", "code": "START8"}}
        assert (await call(shop, "POST", "/admin/api/keywords", {"rules": [rule]}))[0] == 200
        said = (await shop.follower().send_text("o_open", "开业大吉")).shown
        assert said.startswith("🎁 送您一张优惠券：无门槛减8元"), said
        assert CouponTemplate.get(CouponTemplate.code == "START8").stock == 4


def test_db_upgrade_creates_configured_templates(migrated: Config, env: dict[str, str], tmp_path: Any) -> None:
    path = tmp_path / "coupons.toml"
    path.write_text('[[coupons]]\ncode = "UP9"\nkind = "fixed"\nvalue = 900\nstock = 7\n', encoding="utf-8")
    first = wxshop("--config", str(path), "db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert "coupon templates created from [[coupons]]: UP9" in first.stdout, first.stdout
    again = wxshop("--config", str(path), "db", "upgrade", env=env)
    assert again.returncode == 0 and "UP9" not in again.stdout, again.stdout
    open_database(migrated.database.url, migrated.var_dir)
    assert CouponTemplate.get(CouponTemplate.code == "UP9").stock == 7
