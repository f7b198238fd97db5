"""分销 through the real pipeline: signed WeChat XML over HTTP for 成为推广员 / 我的推广码 / 我的佣金, the promoter's
code page asking the MP emulator for its ticket, a friend who follows through the code and pays through the Pay
emulator, an operator's partial refund, the worker's confirmation sweep, and the settlement report (admin JSON and
CSV, and the CLI)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator

import pytest

from bot.process.config import Config
from bot.sandbox.follower import FollowerSimulator
from bot.sandbox.mp_state import MP_STATE
from scheduler.commission_jobs import confirm_commissions
from store.catalog.products import Sku
from store.commission.ledger import confirmed_through, status_of
from store.commission.models import CONFIRMED, Commission, Promoter
from store.core.db import write_transaction
from store.orders.checkout import CartLine, create_order
from tests.gateway_support import account_for
from tests.member_support import pay
from tests.order_support import HOME, RULES
from tests.pay_support import ADMIN_TOKEN, PayWorld, pay_world
from tests.support import wxshop

PROMOTER, FRIEND = "o_cm_promoter", "o_cm_friend"


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        with write_transaction():
            Sku.update(commission_bp=1000).where(Sku.id == w.shop.dress).execute()  # 10 %
        w.sandbox.world.follow(PROMOTER)
        yield w


def follower(w: PayWorld) -> FollowerSimulator:
    url = f"{w.shop_url}{w.config.server.wechat_path}"
    return FollowerSimulator(url, account_for(w.config, "plain"), w.session, w.clock, world=w.sandbox.world)


async def buy_and_pay(w: PayWorld, openid: str, sku: int) -> str:
    order = create_order(openid, [CartLine(sku, 1)], HOME, [], 0, w.clock.now(), rules=RULES)
    params = await w.pay_params(order.order_no, openid)
    assert (await w.confirm(params, openid))["err_msg"] == "get_brand_wcpay_request:ok"
    await w.sandbox.pay.deliver_due()
    return order.order_no


async def test_a_promoter_shares_their_code_and_follows_their_commission_to_settlement(
    world: PayWorld, env: dict[str, str]
) -> None:
    chat = follower(world)
    await chat.follow(PROMOTER)
    assert "还不是推广员" in (await chat.send_text(PROMOTER, "我的佣金")).shown
    joined = await chat.send_text(PROMOTER, "成为推广员")
    assert "恭喜成为推广员" in joined.shown and "30天" in joined.shown, joined.shown
    assert "已经是推广员" in (await chat.send_text(PROMOTER, "成为推广员")).shown
    scene = Promoter.get(Promoter.openid == PROMOTER).scene

    card = await chat.send_text(PROMOTER, "我的推广码")
    assert card.reply["MsgType"] == "news", card.shown
    item = card.reply["Articles"]["item"]
    assert item["Url"].endswith(f"/promo/{scene}") and "已邀请0位好友" in item["Description"]
    world.sandbox.app[MP_STATE].inject_error("/cgi-bin/qrcode/create", 45009)
    async with world.session.get(item["Url"]) as refused:
        assert refused.status == 502 and "稍后再试" in await refused.text()
    async with world.session.get(item["Url"]) as page:
        assert page.status == 200
        html = await page.text()
    ticket = re.search(r'data-ticket="([^"]+)"', html)[1]  # type: ignore[index]
    assert "showqrcode?ticket=" in html and ticket
    async with world.session.get(f"{world.shop_url}/promo/pro_nobody") as missing:
        assert missing.status == 404

    await chat.follow(FRIEND, scene=scene)
    order_no = await buy_and_pay(world, FRIEND, world.shop.dress)
    (row,) = Commission.select()
    assert (row.order_no, row.promoter_openid, row.amount_fen) == (order_no, PROMOTER, row.base_fen // 10)
    earned = row.amount_fen
    shown = (await chat.send_text(PROMOTER, "我的佣金")).shown
    assert f"待确认：¥{earned // 100}.{earned % 100:02d}" in shown and "本月收益" in shown, shown
    assert "已邀请1位好友" in (await chat.send_text(PROMOTER, "推广码")).reply["Articles"]["item"]["Description"]

    status, refund = await world.admin("POST", f"/admin/api/orders/{order_no}/refund",
                                       json={"amount_fen": row.base_fen // 2, "reason": "少发一件"})  # fmt: skip
    assert status == 201 and refund["status"] == "succeeded", refund
    reversed_fen = earned * (row.base_fen // 2) // row.base_fen
    assert Commission.get_by_id(row.line_id).reversed_fen == reversed_fen

    world.clock.advance(days=29)
    assert await confirm_commissions({"deps": world.deps()}) == 0
    world.clock.advance(days=1)
    assert await confirm_commissions({"deps": world.deps()}) == 1
    assert status_of(Commission.get_by_id(row.line_id), confirmed_through()) == CONFIRMED
    shown = (await chat.send_text(PROMOTER, "我的佣金")).shown
    net = earned - reversed_fen
    assert f"已确认：¥{net // 100}.{net % 100:02d}" in shown and "待确认：¥0.00" in shown, shown
    assert f"已扣回（退款）：¥{reversed_fen // 100}.{reversed_fen % 100:02d}" in shown

    day = row.earned_at.date().isoformat()
    status, report = await world.admin("GET", f"/admin/api/commission/report?from={day}&to={day}")
    assert status == 200, report
    assert report["promoters"] == [{"promoter": PROMOTER, "orders": 1, "earned_fen": earned,
                                    "reversed_fen": reversed_fen, "pending_fen": 0, "confirmed_fen": net}]  # fmt: skip
    assert report["totals"]["confirmed_fen"] == net and report["lines"][0]["order_no"] == order_no
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    url = f"{world.shop_url}/admin/api/commission/report?from={day}&to={day}&format=csv"
    async with world.session.get(url, headers=headers) as response:
        assert response.status == 200 and response.content_type == "text/csv"
        csv = await response.text()
    expected = f"{PROMOTER},1,{earned},{reversed_fen},0,{net}"
    assert csv.splitlines()[1:] == [expected]
    for bad in ("from=2026-13-01&to=2026-12-01", f"from={day}", f"from={day}&to=2020-01-01"):
        status, problem = await world.admin("GET", f"/admin/api/commission/report?{bad}")
        assert status == 400 and "error" in problem, (bad, problem)
    status, listed = await world.admin("GET", "/admin/api/commission/promoters")
    assert [(p["openid"], p["scene"], p["confirmed_fen"]) for p in listed["promoters"]] == [(PROMOTER, scene, net)]

    cli = wxshop("commission", "report", "--from", day, "--to", day, env=env)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.splitlines() == ["promoter,orders,earned_fen,reversed_fen,pending_fen,confirmed_fen", expected]
    bad = wxshop("commission", "report", "--from", "x", "--to", day, env=env)
    assert bad.returncode != 0 and "YYYY-MM-DD" in bad.stderr


async def test_promoters_from_a_minimum_tier_only(migrated: Config) -> None:
    config = dataclasses.replace(migrated, commission=dataclasses.replace(migrated.commission, min_tier="vip"))
    async with pay_world(config) as w:
        w.sandbox.world.follow(PROMOTER)
        chat = follower(w)
        await chat.follow(PROMOTER)
        refused = await chat.send_text(PROMOTER, "成为推广员")
        assert "需要VIP会员及以上" in refused.shown and "普通会员" in refused.shown, refused.shown
        assert Promoter.select().count() == 0
        assert "还不是推广员" in (await chat.send_text(PROMOTER, "我的推广码")).shown
        pay(PROMOTER, 500000, "VIP1", w.clock.now())  # 5,000 yuan paid: VIP
        assert "恭喜成为推广员" in (await chat.send_text(PROMOTER, "成为推广员")).shown
        assert Promoter.select().count() == 1
