"""Segments and campaigns through the admin API on a real server: a rule previewed and saved, a campaign's
linted fields, its dry run, a start repeated (once per member), its results."""

from __future__ import annotations

from bot.process.config import Config
from store.core.clock import ManualClock
from store.core.db import close_database, open_database
from store.profiles.compute import rebuild_profiles
from store.profiles.rules import ProfileRules
from tests.gateway_support import running
from tests.test_engine import TOKEN, with_admin
from tests.test_profiles import NOW, population

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_segment_preview_save_and_a_campaign_once_per_member(migrated: Config) -> None:
    open_database(migrated.database.url, migrated.var_dir)
    try:
        population()
        rebuild_profiles(ProfileRules(), NOW)
    finally:
        close_database()
    config = with_admin(migrated)
    async with running(config, ManualClock(NOW)) as shop:
        url = shop.server.make_url

        async def call(method: str, path: str, expect: int = 200, **kw: object) -> dict:
            response = await shop.session.request(method, url(path), headers=AUTH, **kw)
            assert response.status == expect, await response.text()
            return await response.json()

        assert (await shop.session.get(url("/admin/api/segments"))).status == 401
        rule = {"lifecycle": ["衰退"], "bought_category": "服饰", "bought_within_days": 180, "tier_at_least": "vip"}
        assert await call("POST", "/admin/api/segments/preview", json=rule) == {"size": 1}
        bad = await call("POST", "/admin/api/segments/preview", 422, json={"lifecycle": ["沉睡"], "r_min": 7})
        assert len(bad["problems"]) == 2
        assert (await call("PUT", "/admin/api/segments/回流", json=rule))["size"] == 1
        await call("PUT", "/admin/api/segments/高价值", json={"m_min": 4})
        listed = await call("GET", "/admin/api/segments")
        assert [(s["name"], s["size"]) for s in listed["segments"]] == [("回流", 1), ("高价值", 5)]

        draft = {"name": "权益", "segment": "高价值", "subject": "会员权益更新", "detail": "详情请进入公众号查看"}
        linted = await call("POST", "/admin/api/campaigns", 422, json={**draft, "name": "x", "subject": "秒杀！"})
        assert linted["problems"]
        await call("POST", "/admin/api/campaigns", 422, json={**draft, "name": "y", "segment": "无此人群"})
        created = await call("POST", "/admin/api/campaigns", 201, json=draft)
        assert (created["status"], created["queued"]) == ("draft", 0)
        await call("POST", "/admin/api/campaigns", 409, json=draft)
        plan = await call("POST", "/admin/api/campaigns/权益/dry-run")
        assert plan == {"dry_run": True, "targeted": 5, "already_queued": 0, "would_queue": 5}
        started = await call("POST", "/admin/api/campaigns/权益/start")
        assert (started["queued_now"], started["targeted"], started["pending"]) == (5, 5, 5)
        assert started["status"] == "started"
        again = await call("POST", "/admin/api/campaigns/权益/start")
        assert (again["queued_now"], again["queued"], again["pending"]) == (0, 5, 5)
        result = await call("GET", "/admin/api/campaigns/权益")
        assert (result["queued"], result["sent"], result["failed"]) == (5, 0, 0)
        assert [c["name"] for c in (await call("GET", "/admin/api/campaigns"))["campaigns"]] == ["权益"]
        await call("GET", "/admin/api/campaigns/无", 404)
