"""What shoppers actually type, over signed HTTP: colloquial commands, policy questions, small talk, problems told
as facts, a clarifying question when unsure, the unanswered inbox, and built-ins an operator rule cannot hijack."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.process.config import Config
from store.chat.nlu import list_unanswered
from store.core.clock import SHANGHAI, ManualClock
from store.core.db import close_database, open_database
from tests.gateway_support import running
from tests.test_engine import load_rules, with_admin

FALLBACK = "没太明白"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 5, 10, 0, tzinfo=SHANGHAI))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("带我逛一下呗", "请选择分类"),  # 逛商城, padded: the demo catalog is empty here, so the answer says so
        ("单子不要了帮我取消", "没有可以取消的订单"),
        ("啥时候能发出来啊", "发货"),
        ("你们几天无理由退货", "7天"),
        ("谢谢啦", ""),
        ("哈哈哈哈", ""),
        ("快递盒压坏了", "售后"),
        ("发错货了", "售后"),
        ("买的东西还没到", "包裹"),
        ("满多少减多少呀", "满200"),
        ("新人礼包是啥", "新人"),
        ("怎么才能升级vip", "VIP"),
        ("早上好呀", ""),
    ],
)
async def test_what_shoppers_type_is_understood(migrated: Config, clock: ManualClock, text: str, expected: str) -> None:
    async with running(with_admin(migrated), clock) as shop:
        reply = (await shop.follower().send_text("o_nlu", text)).shown
    assert FALLBACK not in reply and "您是想" not in reply, f"{text!r} → {reply!r}"
    if text == "带我逛一下呗":
        assert "请选择分类" in reply or "上新中" in reply, reply
    else:
        assert expected in reply, f"{text!r} → {reply!r}"


async def test_an_unsure_guess_asks_which_of_two_and_the_inbox_keeps_it(migrated: Config, clock: ManualClock) -> None:
    async with running(with_admin(migrated), clock) as shop:
        follower = shop.follower()
        asked = (await follower.send_text("o_unsure", "少发了一件怎么办")).shown
        unknown = (await follower.send_text("o_lost", "量子纠缠怎么理解")).shown
    assert asked.startswith("您是想") and "还是想" in asked, asked
    assert FALLBACK in unknown
    open_database(migrated.database.url, migrated.var_dir)  # the app stored its inbox when it stopped
    try:
        inbox = {row.text: row for row in list_unanswered()}
    finally:
        close_database()
    assert inbox["少发了一件怎么办"].outcome == "clarify" and inbox["少发了一件怎么办"].example_openid == "o_unsure"
    assert inbox["量子纠缠怎么理解"].outcome == "fallback" and inbox["量子纠缠怎么理解"].count == 1


async def test_an_operator_rule_does_not_hijack_the_followers_own_parcel(migrated: Config, clock: ManualClock) -> None:
    rule = {"name": "快递合作", "keywords": ["快递"], "match": "contains", "reply": "我们与顺丰合作。"}
    async with running(with_admin(migrated), clock) as shop:
        await load_rules(shop, {"rules": [rule]})
        follower = shop.follower()
        own = (await follower.send_text("o_rule", "查快递")).shown
        other = (await follower.send_text("o_rule", "你们用什么快递公司")).shown
        await load_rules(shop, {"rules": [{**rule, "overrides": True}]}, replace=True)
        overridden = (await follower.send_text("o_rule2", "查快递")).shown
    assert "顺丰" not in own, "the built-in reads the buyer's own parcels"
    assert other == "我们与顺丰合作。", "elsewhere the rule answers"
    assert overridden == "我们与顺丰合作。", "a rule marked overrides answers even there"
