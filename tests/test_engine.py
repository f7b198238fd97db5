"""The keyword and dialog engine over HTTP: signed XML in, reply XML out, rules loaded through the admin API."""

from __future__ import annotations

import asyncio
import dataclasses
import tomllib
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from bot.process.config import Config
from bot.sandbox import World
from bot.sandbox.mp_api import create_mp_app
from bot.wechat.gateway import LATE_TASKS
from store.core.clock import SHANGHAI, ManualClock
from store.core.db import open_database
from store.members.followers import Follower
from tests.gateway_support import running

RULES = tomllib.loads((Path(__file__).parent / "data" / "rules.toml").read_text(encoding="utf-8"))
TOKEN = "admin-secret-token"


def with_admin(config: Config, **shop: object) -> Config:
    return dataclasses.replace(
        config,
        admin=dataclasses.replace(config.admin, api_token=TOKEN),
        shop=dataclasses.replace(config.shop, **shop),
    )


def jsonable(document: dict) -> dict:
    """TOML datetimes → ISO strings, as an operator's JSON would carry them."""
    rules = [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()} for r in document["rules"]]
    return {**document, "rules": rules}


async def load_rules(shop, document: dict = RULES, replace: bool = False) -> dict:
    response = await shop.session.post(
        shop.server.make_url("/admin/api/keywords") % ({"replace": "1"} if replace else {}),
        json=jsonable(document),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    body = await response.json()
    assert response.status == 200, body
    return body


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 5, 10, 0, tzinfo=SHANGHAI))


async def test_match_modes_and_precedence(migrated: Config, clock: ManualClock) -> None:
    async with running(with_admin(migrated), clock) as shop:
        await load_rules(shop)
        follower = shop.follower()
        assert (await follower.send_text("o1", "请问营业时间是？")).shown == "客服在线时间：每天 9:00-21:00。"
        assert (await follower.send_text("o1", "ＰＬＳ 包邮吗！！")).shown == "全场满99元包邮，偏远地区除外。"
        assert (await follower.send_text("o1", "订单 123456")).shown == "收到订单号，正在为您查询。"
        assert "收到订单号" not in (await follower.send_text("o1", "订单12")).shown, "regex needs 6+ digits"
        assert (await follower.send_text("o1", "早上好")).shown in ("早呀～今天想看点什么？", "您好呀，欢迎光临！")
        assert "早呀" not in (await follower.send_text("o1", "早上好呀")).shown, "exact means the whole message"

        overlap = {
            "rules": [
                {"name": "泛", "keywords": ["运费"], "match": "contains", "reply": "contains-low", "priority": 1},
                {"name": "高", "keywords": ["运费险"], "match": "contains", "reply": "contains-high", "priority": 5},
                {"name": "精确", "keywords": ["运费险"], "match": "exact", "reply": "exact", "priority": 0},
                {"name": "长", "keywords": ["运费险怎么赔"], "match": "contains", "reply": "longer", "priority": 5},
            ]
        }
        await load_rules(shop, overlap)
        assert (await follower.send_text("o1", "运费险")).shown == "exact", "exact beats contains"
        assert (await follower.send_text("o1", "有运费险吗")).shown == "contains-high", "then priority"
        assert (await follower.send_text("o1", "运费险怎么赔呢")).shown == "longer", "then the longer keyword"


async def test_time_windows(migrated: Config, clock: ManualClock) -> None:
    async with running(with_admin(migrated), clock) as shop:
        await load_rules(shop)
        follower = shop.follower()
        inside = await follower.send_text("o2", "双十一有什么活动")
        assert inside.reply["MsgType"] == "news" and "双十一狂欢" in inside.shown
        clock.set(datetime(2026, 11, 12, 0, 0, tzinfo=SHANGHAI))
        after = await follower.send_text("o2", "双十一有什么活动")
        assert "双十一狂欢" not in after.shown


async def test_reply_mode_all_sends_the_rest_as_customer_service_messages(migrated: Config, clock: ManualClock) -> None:
    world = World(migrated.wechat.app_id, migrated.wechat.app_secret, clock)
    mp = TestServer(create_mp_app(world), host="127.0.0.1")
    await mp.start_server()
    try:
        base = str(mp.make_url("")).rstrip("/")
        wechat = dataclasses.replace(migrated.wechat, api_base_url=base)
        config = dataclasses.replace(with_admin(migrated), wechat=wechat)
        async with running(config, clock) as shop:
            await load_rules(shop)
            world.follow("o3")
            delivery = await shop.follower(world=world).send_text("o3", "有活动吗")
            assert delivery.shown == "本周满200减20。"
            await asyncio.gather(*shop.app[LATE_TASKS])
            assert [d.payload["text"]["content"] for d in world.delivered("o3")] == ["会员再享折上折。"]
    finally:
        await mp.close()


async def test_reply_mode_random_picks_among_the_replies(migrated: Config, clock: ManualClock) -> None:
    async with running(with_admin(migrated), clock) as shop:
        await load_rules(shop)
        seen = {(await shop.follower().send_text("o4", "晚上好")).shown for _ in range(24)}
        assert seen == {"早呀～今天想看点什么？", "您好呀，欢迎光临！"}


async def test_fallback_ladder_and_default_reply_throttle(migrated: Config, clock: ManualClock) -> None:
    async with running(with_admin(migrated, default_reply_interval_minutes=60), clock) as shop:
        await load_rules(shop)
        follower = shop.follower()
        assert "没太明白" in (await follower.send_text("o5", "量子纠缠")).shown, "clarify once"
        assert (await follower.send_text("o5", "薛定谔")).shown == RULES["default_reply"], "then the default reply"
        assert "人工" in (await follower.send_text("o5", "黑洞")).shown, "within the hour: offer a human"
        clock.advance(minutes=61)
        assert "没太明白" in (await follower.send_text("o5", "虫洞")).shown, "a new conversation clarifies again"
        assert (await follower.send_text("o5", "白洞")).shown == RULES["default_reply"], "an hour later: allowed again"
        assert (await follower.send_text("o5", "营业时间")).shown.startswith("客服在线时间")


async def test_follow_reply_from_the_rules_file(migrated: Config, clock: ManualClock) -> None:
    async with running(with_admin(migrated), clock) as shop:
        await load_rules(shop)
        delivery = await shop.follower().follow("o6")
        assert delivery.shown == RULES["follow_reply"][0]


async def test_flow_interrupted_by_a_keyword_resumes_and_saves(migrated: Config, clock: ManualClock) -> None:
    async with running(with_admin(migrated), clock) as shop:
        await load_rules(shop)
        follower = shop.follower()
        assert "请告诉我您的生日" in (await follower.send_text("o7", "设置生日")).shown
        interrupted = await follower.send_text("o7", "你们营业时间？")
        assert interrupted.shown.startswith("客服在线时间")
        assert "继续“设置生日”：请告诉我您的生日" in interrupted.shown
        helped = await follower.send_text("o7", "帮助")
        assert "我可以帮您" in helped.shown and "继续“设置生日”" in helped.shown
        assert "抱歉，没听懂" in (await follower.send_text("o7", "2月30日")).shown, "not a real date: re-prompt"
        assert "确认把生日设为5月20日吗" in (await follower.send_text("o7", "5月20日")).shown
        assert "请告诉我您的生日" in (await follower.send_text("o7", "返回")).shown, "back to the previous step"
        assert "确认把生日设为6月1日吗" in (await follower.send_text("o7", "6.1")).shown
        done = await follower.send_text("o7", "是的")
        assert "已把您的生日设为6月1日" in done.shown
        open_database(migrated.database.url, migrated.var_dir)
        assert Follower.get(Follower.openid == "o7").birthday == "06-01"
        assert "生日" not in (await follower.send_text("o7", "是的")).shown, "the flow is over"


async def test_cancel_and_retry_limit(migrated: Config, clock: ManualClock) -> None:
    async with running(with_admin(migrated), clock) as shop:
        follower = shop.follower()
        await follower.send_text("o8", "我要设置生日")
        assert "确认" in (await follower.send_text("o8", "5月20日")).shown
        assert (await follower.send_text("o8", "取消")).shown == "已取消“设置生日”。"
        assert "生日" not in (await follower.send_text("o8", "是")).shown, "the confirmation went with the flow"
        open_database(migrated.database.url, migrated.var_dir)
        assert getattr(Follower.get_or_none(Follower.openid == "o8"), "birthday", None) is None

        await follower.send_text("o8", "设置生日")
        await follower.send_text("o8", "不知道")
        await follower.send_text("o8", "随便")
        gave_up = await follower.send_text("o8", "啊啊")
        assert "已退出“设置生日”" in gave_up.shown


async def test_a_flow_times_out_by_the_clock(migrated: Config, clock: ManualClock) -> None:
    async with running(with_admin(migrated, dialog_ttl_minutes=30), clock) as shop:
        follower = shop.follower()
        await follower.send_text("o9", "设置生日")
        clock.advance(minutes=29)
        assert "确认把生日设为" in (await follower.send_text("o9", "5月20日")).shown, "still alive at 29 minutes"
        clock.advance(minutes=31)
        expired = await follower.send_text("o9", "是")
        assert expired.shown.startswith("刚才的“设置生日”已超时结束。")
        open_database(migrated.database.url, migrated.var_dir)
        assert Follower.get_or_none(Follower.openid == "o9") is None or not Follower.get(
            Follower.openid == "o9"
        ).birthday


async def test_human_handover_silences_the_bot_until_it_ends(migrated: Config, clock: ManualClock) -> None:
    async with running(with_admin(migrated), clock) as shop:
        follower = shop.follower()
        handed = await follower.send_text("o10", "转人工")
        assert handed.reply["MsgType"] == "transfer_customer_service"
        quiet = await follower.send_text("o10", "在吗？")
        assert quiet.attempts[0].body == "" and quiet.shown == ""
        clock.advance(minutes=31)
        assert "欢迎来到" in (await follower.send_text("o10", "你好")).shown, "the session lapsed after 30 minutes"

        await follower.send_text("o10", "人工客服")
        assert (await follower.send_text("o10", "还在吗")).shown == ""
        await follower.send_event("o10", "kf_close_session", None, KfAccount="test1@test")
        assert "欢迎来到" in (await follower.send_text("o10", "你好")).shown, "the agent closed the session"


async def test_menu_clicks_route_to_intents(migrated: Config, clock: ManualClock) -> None:
    async with running(with_admin(migrated), clock) as shop:
        follower = shop.follower()
        assert "订单" in (await follower.click("o11", "MY_ORDERS")).shown
        assert "包裹" in (await follower.click("o11", "TRACKING")).shown
        assert "会员" in (await follower.click("o11", "MEMBER")).shown
        assert "人工" in (await follower.click("o11", "HUMAN")).shown
        assert "暂时没有内容" in (await follower.click("o11", "NO_SUCH_KEY")).shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的订单", "订单"),
        ("快递到哪了", "包裹"),
        ("怎么退货", "售后"),
        ("我是什么会员", "会员"),
        ("我的优惠券", "优惠券"),
        ("我的积分", "积分"),
        ("看看连衣裙", "连衣裙"),
        ("有红色的吗", "红色"),
        ("帮助", "我可以帮您"),
    ],
)
async def test_built_in_intents_understand_chinese_phrasing(
    migrated: Config, clock: ManualClock, text: str, expected: str
) -> None:
    async with running(with_admin(migrated), clock) as shop:
        assert expected in (await shop.follower().send_text("o12", text)).shown
