"""The keyword rule editor's API over real HTTP: one rule created, edited (renamed), switched off and on and
deleted, each change answered by the bot at once; every problem of a bad rule named by its field; the "who answers
this" probe naming the rule, the built-in that comes before a rule, or the engine's step and reply."""

from __future__ import annotations

from typing import Any

from bot.process.config import Config
from dialogs.engine import CLARIFY
from tests.console_support import BEARER
from tests.gateway_support import Running, running
from tests.test_engine import with_admin

HOURS = {
    "name": "营业时间",
    "keywords": ["营业时间", "几点下班"],
    "match": "contains",
    "reply": ["每天 9:00-21:00", {"type": "news", "title": "门店地址", "url": "https://shop.example/map",
                                  "image": "https://img.example/map.jpg"}],
}  # fmt: skip


async def call(shop: Running, method: str, path: str, expect: int, **kwargs: Any) -> dict:
    response = await shop.session.request(method, shop.server.make_url(f"/admin/api/{path}"), headers=BEARER, **kwargs)
    assert response.status == expect, await response.text()
    return await response.json()


async def test_a_rule_is_created_edited_switched_off_and_deleted_and_the_bot_follows(migrated: Config) -> None:
    async with running(with_admin(migrated)) as shop:
        follower = shop.follower()
        created = await call(shop, "POST", "keywords/rules", 201, json=HOURS)
        assert created["rule"]["name"] == "营业时间" and created["rule"]["reply"][1]["type"] == "news"
        assert (await follower.send_text("o_a", "请问营业时间")).shown.startswith("每天 9:00-21:00")
        taken = await call(shop, "POST", "keywords/rules", 409, json=HOURS)
        assert "exists already" in taken["error"]

        edited = {**HOURS, "name": "营业时间与地址", "match": "exact", "keywords": ["营业时间"], "reply": "全天营业"}
        renamed = await call(shop, "PUT", "keywords/营业时间", 200, json=edited)
        assert renamed["rule"]["match"] == "exact" and renamed["version"] > created["version"]
        assert (await follower.send_text("o_a", "营业时间")).shown == "全天营业"
        assert (await follower.send_text("o_a", "几点下班")).shown != "全天营业", "the old keyword is gone"
        await call(shop, "PUT", "keywords/营业时间", 404, json=edited)
        await call(shop, "POST", "keywords/rules", 201, json={**HOURS, "name": "另一条", "keywords": ["地址"]})
        await call(shop, "PUT", "keywords/另一条", 409, json=edited)

        off = await call(shop, "PATCH", "keywords/营业时间与地址", 200, json={"enabled": False})
        assert off["rule"]["enabled"] is False
        assert (await follower.send_text("o_b", "营业时间")).shown != "全天营业", "a switched-off rule is silent"
        listed = await call(shop, "GET", "keywords", 200)
        [silent] = [c for c in listed["conflicts"] if c["kind"] == "never_fires"]
        assert (silent["rule"], silent["reason"]) == ("营业时间与地址", "disabled")
        await call(shop, "PATCH", "keywords/营业时间与地址", 200, json={"enabled": True})
        assert (await follower.send_text("o_c", "营业时间")).shown == "全天营业"
        bad = await call(shop, "PATCH", "keywords/营业时间与地址", 422, json={"enabled": "yes"})
        assert bad["problems"] == ['the body must be {"enabled": true | false}']
        await call(shop, "PATCH", "keywords/没有这条", 404, json={"enabled": True})

        await call(shop, "DELETE", "keywords/营业时间与地址", 200)
        assert [r["name"] for r in (await call(shop, "GET", "keywords", 200))["rules"]] == ["另一条"]


async def test_a_bad_rule_lists_every_problem_by_field(migrated: Config) -> None:
    async with running(with_admin(migrated)) as shop:
        bad = {"name": "", "keywords": [], "match": "fuzzy", "reply": {"type": "news", "title": "无链接"}}
        body = await call(shop, "POST", "keywords/rules", 422, json=bad)
        assert body["problems"] == [
            "name: expected a non-empty string of at most 100 characters",
            "keywords: expected a non-empty list of non-empty strings",
            "match: expected one of exact, contains, regex, got 'fuzzy'",
            "reply.url: expected an http(s) URL",
        ]
        regex = await call(shop, "POST", "keywords/rules", 422,
                           json={"name": "r", "keywords": ["(a*)*b"], "match": "regex", "reply": "x"})  # fmt: skip
        assert regex["problems"][0].startswith("keywords:")
        await call(shop, "POST", "keywords/rules", 400, data=b"{not json")
        assert (await call(shop, "GET", "keywords", 200))["rules"] == [], "nothing was saved"


async def test_who_answers_a_text_rule_builtin_first_or_the_engine(migrated: Config) -> None:
    async with running(with_admin(migrated)) as shop:
        orders = {"name": "订单说明", "keywords": ["订单"], "match": "contains", "reply": "订单问题请找客服"}
        await call(shop, "POST", "keywords/rules", 201, json=orders)
        await call(shop, "POST", "keywords/rules", 201, json=HOURS)
        listed = await call(shop, "GET", "keywords", 200)
        warnings = {r["name"]: r["warnings"] for r in listed["rules"]}
        assert {(w["intent"], w["effect"]) for w in warnings["订单说明"]} == {("orders", "builtin_wins")}
        assert warnings["营业时间"] == []

        hit = await call(shop, "GET", "keywords/test?text=请问营业时间", 200)
        assert (hit["rule"]["name"], hit["rule"]["keyword"], hit["engine"]) == ("营业时间", "营业时间", None)

        mine = await call(shop, "GET", "keywords/test?text=我的订单", 200)
        assert mine["rule"] is None and mine["matched_rule"]["name"] == "订单说明"
        assert mine["hijacked_by"] == {"intent": "orders", "label": "查订单"}
        assert (mine["engine"]["kind"], mine["engine"]["intent"]) == ("builtin", "orders")
        assert mine["engine"]["replies"] == [{"type": "text", "content": "您最近还没有订单。回复“逛商城”挑选商品吧～"}]

        unclear = await call(shop, "GET", "keywords/test?text=量子纠缠", 200)
        assert unclear["engine"]["kind"] == "clarify" and unclear["engine"]["replies"][0]["content"] == CLARIFY
        again = await call(shop, "GET", "keywords/test?text=量子纠缠", 200)
        assert again["engine"]["kind"] == "clarify", "the probe keeps no conversation state"
        human = await call(shop, "GET", "keywords/test?text=转人工", 200)
        assert (human["engine"]["kind"], human["engine"]["transfer"]) == ("global", True)
        colloquial = await call(shop, "GET", "keywords/test?text=啥时候能发出来啊", 200)
        assert (colloquial["engine"]["kind"], colloquial["engine"]["intent"]) == ("understanding", "ask_shipping_time")
        assert 0 < colloquial["engine"]["confidence"] <= 1
        await call(shop, "GET", "keywords/test", 400)
        inbox = await call(shop, "GET", "nlu/unanswered", 200)
        assert inbox["unanswered"] == [], "probes are not shoppers' questions"
