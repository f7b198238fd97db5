"""Campaigns through the admin API on a real server and through `wxshop campaigns`: options checked, a scheduled
start, a start now, a cancel (and no start after it), the results; the CLI's create, dry run, start, list, show
and cancel."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.process.config import Config
from store.core.clock import ManualClock
from store.core.db import close_database, open_database
from store.members.templates import seed_templates
from store.profiles.compute import rebuild_profiles
from store.profiles.rules import ProfileRules
from store.profiles.segments import parse_rule, save_segment
from tests.gateway_support import running
from tests.support import wxshop
from tests.test_engine import TOKEN, with_admin
from tests.test_profiles import NOW, population

AUTH = {"Authorization": f"Bearer {TOKEN}"}
DRAFT = {"name": "权益", "segment": "高价值", "subject": "会员权益更新", "detail": "详情请进入公众号查看"}


def prepared(config: Config) -> None:
    open_database(config.database.url, config.var_dir)
    try:
        population()
        rebuild_profiles(ProfileRules(), NOW)
        save_segment("高价值", parse_rule({"m_min": 4}), NOW)
        seed_templates(["BDAY30"], NOW)
    finally:
        close_database()


async def test_create_schedule_start_cancel_and_results(migrated: Config) -> None:
    prepared(migrated)
    async with running(with_admin(migrated), ManualClock(NOW)) as shop:
        url = shop.server.make_url

        async def call(method: str, path: str, expect: int = 200, **kw: object) -> dict:
            response = await shop.session.request(method, url(path), headers=AUTH, **kw)
            assert response.status == expect, await response.text()
            return await response.json()

        linted = await call("POST", "/admin/api/campaigns", 422, json={**DRAFT, "subject": "限时秒杀！"})
        assert any(p.startswith("campaign notice: subject") for p in linted["problems"]), linted
        bad = await call("POST", "/admin/api/campaigns", 422, json={**DRAFT, "channel": "sms", "coupon": "NOPE"})
        assert "channel" in bad["error"] and "coupon" in bad["error"]
        await call("POST", "/admin/api/campaigns", 422, json={**DRAFT, "per_minute": "fast"})
        later = (NOW + timedelta(days=1)).isoformat()
        scheduled = await call("POST", "/admin/api/campaigns", 201, json={**DRAFT, "starts_at": later,
                                                                          "coupon": "BDAY30", "per_minute": 100})
        assert (scheduled["status"], scheduled["coupon"], scheduled["queued"]) == ("scheduled", "BDAY30", 0)
        assert scheduled["attribution_days"] == 7  # [marketing] attribution_days
        started = await call("POST", "/admin/api/campaigns/权益/start")  # now, without waiting for the time
        assert (started["status"], started["queued_now"], started["pending"]) == ("started", 5, 5)
        cancelled = await call("POST", "/admin/api/campaigns/权益/cancel")
        assert (cancelled["cancelled_notices"], cancelled["coupons_withdrawn"]) == (5, 5)
        assert (cancelled["status"], cancelled["cancelled"], cancelled["pending"]) == ("cancelled", 5, 0)
        refused = await call("POST", "/admin/api/campaigns/权益/start", 409)
        assert "cancelled" in refused["error"]

        await call("POST", "/admin/api/campaigns", 201, json={**DRAFT, "name": "CS", "channel": "custom"})
        at = await call("POST", "/admin/api/campaigns/CS/start", json={"at": (NOW + timedelta(hours=2)).isoformat()})
        assert (at["status"], at["queued_now"]) == ("scheduled", 0)
        await call("POST", "/admin/api/campaigns/CS/start", 422, json={"at": "tomorrow"})
        result = await call("GET", "/admin/api/campaigns/CS")
        assert (result["channel"], result["targeted"]) == ("custom", 0)
        names = [c["name"] for c in (await call("GET", "/admin/api/campaigns"))["campaigns"]]
        assert names == ["权益", "CS"]
        await call("POST", "/admin/api/campaigns/无/cancel", 404)


def test_cli_create_dry_run_start_list_show_cancel(migrated: Config, env: dict[str, str]) -> None:
    prepared(migrated)
    clock = {**env, "WXSHOP_CLOCK": f"frozen:{NOW.isoformat()}"}
    created = wxshop("campaigns", "create", "权益", "--segment", "高价值", "--subject", "会员权益更新",
                     "--detail", "详情请进入公众号查看", "--channel", "custom", "--per-minute", "2",
                     env=clock)  # fmt: skip
    assert created.returncode == 0 and created.stdout.strip() == "campaign 权益: draft (custom)", created.stderr
    linted = wxshop("campaigns", "create", "x", "--segment", "高价值", "--subject", "限时秒杀！", "--detail", "y",
                    env=clock)  # fmt: skip
    assert linted.returncode == 1 and "subject" in linted.stderr
    plan = wxshop("campaigns", "start", "权益", "--dry-run", env=clock)
    assert plan.stdout.strip() == "campaign 权益 would reach 5 of 5 (dry run)", plan.stderr
    assert wxshop("campaigns", "start", "权益", env=clock).stdout.strip() == "campaign 权益: queued 5"
    listed = wxshop("campaigns", "list", env=clock).stdout
    assert listed.startswith("权益 [started, custom] segment 高价值: targeted 5, sent 0"), listed
    shown = json.loads(wxshop("campaigns", "show", "权益", env=clock).stdout)
    assert (shown["queued"], shown["pending"], shown["channel"]) == (5, 5, "custom")
    cancelled = wxshop("campaigns", "cancel", "权益", env=clock)
    assert cancelled.stdout.strip() == "campaign 权益: cancelled (5 notices dropped, 0 coupons taken back)"
    missing = wxshop("campaigns", "show", "无", env=clock)
    assert missing.returncode == 1 and "no campaign" in missing.stderr
