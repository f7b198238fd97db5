"""The learning loop through the admin API, over real HTTP: the inbox fills from signed WeChat texts, an operator
teaches one and the next identical text is answered by the taught intent, forgetting takes it back; bad input is
a 400 or a 422 that says why, and every route needs the token or a console session (with CSRF on changes)."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.process.config import Config
from store.core.clock import SHANGHAI, ManualClock
from tests.console_support import BEARER, console_running, create_user, with_token
from tests.gateway_support import running
from tests.test_engine import with_admin

FALLBACK = "没太明白"
PUZZLE = "量子纠缠怎么理解"  # nothing the shop knows: the fallback
UNSURE = "少发了一件怎么办"  # between two intents: a clarifying question


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 5, 10, 0, tzinfo=SHANGHAI))


async def test_an_operator_teaches_from_the_inbox_and_the_bot_answers(migrated: Config, clock: ManualClock) -> None:
    async with running(with_admin(migrated), clock) as shop:
        follower = shop.follower()

        async def call(method: str, path: str, expect: int, **kwargs: object) -> dict:
            response = await shop.session.request(method, shop.server.make_url(path), headers=BEARER, **kwargs)
            assert response.status == expect, await response.text()
            return await response.json()

        assert FALLBACK in (await follower.send_text("o_a", PUZZLE)).shown
        clock.advance(minutes=5)
        assert (await follower.send_text("o_b", UNSURE)).shown.startswith("您是想")
        assert FALLBACK in (await follower.send_text("o_c", PUZZLE)).shown

        inbox = (await call("GET", "/admin/api/nlu/unanswered", 200))["unanswered"]
        seen = [(q["text"], q["count"], q["outcome"]) for q in inbox]
        assert seen == [(UNSURE, 1, "clarify"), (PUZZLE, 2, "fallback")], "newest first, counted once per text"
        assert inbox[1]["example_openid"] == "o_c" and inbox[1]["last_seen"] == "2026-11-05 10:05:00+08:00"
        first = await call("GET", "/admin/api/nlu/unanswered?limit=1", 200)
        assert [q["text"] for q in first["unanswered"]] == [UNSURE]
        rest = await call("GET", f"/admin/api/nlu/unanswered?limit=1&before_id={first['next_before_id']}", 200)
        assert [q["text"] for q in rest["unanswered"]] == [PUZZLE]

        unknown = await call("POST", "/admin/api/nlu/examples", 422, json={"text": PUZZLE, "intent": "physics"})
        assert unknown["problems"] == ["unknown intent 'physics'"] and "ask_return_policy" in unknown["known_intents"]
        empty = await call("POST", "/admin/api/nlu/examples", 422, json={"text": " ！？ ", "intent": "help"})
        assert "nothing to learn from" in empty["problems"][0]
        long = await call("POST", "/admin/api/nlu/examples", 422, json={"text": "好" * 201, "intent": "help"})
        assert long["problems"] == ["the text is longer than 200 characters (201)"]
        await call("POST", "/admin/api/nlu/examples", 422, json={"text": 7, "intent": "help"})
        await call("POST", "/admin/api/nlu/examples", 400, data=b"{not json")

        lesson = {"text": PUZZLE, "intent": "ask_return_policy"}
        taught = await call("POST", "/admin/api/nlu/examples", 201, json=lesson)
        assert (taught["text"], taught["label"]) == (PUZZLE, "了解退换货政策")
        again = await call("POST", "/admin/api/nlu/examples", 200, json=lesson)
        assert again["id"] == taught["id"], "teaching twice keeps one example"
        answered = (await follower.send_text("o_d", PUZZLE)).shown
        assert "7天" in answered and FALLBACK not in answered, answered

        assert [q["text"] for q in (await call("GET", "/admin/api/nlu/unanswered", 200))["unanswered"]] == [UNSURE]
        everything = (await call("GET", "/admin/api/nlu/unanswered?all=1", 200))["unanswered"]
        assert everything[1]["taught_intent"] == "ask_return_policy"
        examples = (await call("GET", "/admin/api/nlu/examples", 200))["examples"]
        assert [(e["id"], e["intent"]) for e in examples] == [(taught["id"], "ask_return_policy")]
        assert (await call("GET", "/admin/api/nlu/examples?intent=help", 200))["examples"] == []
        intents = {i["intent"]: i for i in (await call("GET", "/admin/api/nlu/intents", 200))["intents"]}
        assert len(intents) == 31 and intents["ask_return_policy"]["taught"] == 1
        assert intents["ask_return_policy"]["shipped"] > 5 and intents["tracking"]["label"] == "查物流"

        await call("DELETE", f"/admin/api/nlu/unanswered/{inbox[0]['id']}", 200)
        await call("DELETE", f"/admin/api/nlu/unanswered/{inbox[0]['id']}", 404)
        assert (await call("GET", "/admin/api/nlu/unanswered", 200))["unanswered"] == []

        forgotten = await call("DELETE", f"/admin/api/nlu/examples/{taught['id']}", 200)
        assert forgotten["forgotten"]["text"] == PUZZLE
        await call("DELETE", f"/admin/api/nlu/examples/{taught['id']}", 404)
        assert FALLBACK in (await follower.send_text("o_e", PUZZLE)).shown, "forgotten: the model retrained without it"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/api/nlu/unanswered?before_id=99999999999999999999999",
        "/admin/api/nlu/unanswered?limit=abc",
        "/admin/api/nlu/unanswered?limit=0",
        "/admin/api/nlu/unanswered?before_id=-3",
    ],
)
async def test_bad_integers_are_a_400(migrated: Config, path: str) -> None:
    async with running(with_admin(migrated)) as shop:
        response = await shop.session.get(shop.server.make_url(path), headers=BEARER)
        assert response.status == 400, await response.text()
        assert "must be a whole number" in (await response.json())["error"]
        for bad in ("abc", "99999999999999999999999", "0"):
            for kind in ("examples", "unanswered"):
                url = shop.server.make_url(f"/admin/api/nlu/{kind}/{bad}")
                deleted = await shop.session.delete(url, headers=BEARER)
                assert deleted.status == 400, (kind, bad, await deleted.text())


async def test_every_route_needs_the_token_or_a_session_with_csrf(migrated: Config, env: dict[str, str]) -> None:
    routes = [("GET", "intents"), ("GET", "unanswered"), ("DELETE", "unanswered/1"), ("GET", "examples"),
              ("POST", "examples"), ("DELETE", "examples/1")]  # fmt: skip
    async with running(migrated) as shop:  # no token configured: the API is off
        for method, path in routes:
            response = await shop.session.request(method, shop.server.make_url(f"/admin/api/nlu/{path}"))
            assert response.status == 403, (method, path)
    create_user(env)
    async with console_running(with_token(migrated)) as console:
        for method, path in routes:
            url = console.url(f"/admin/api/nlu/{path}")
            assert (await console.browser.request(method, url)).status == 401, (method, path)
            wrong = {"Authorization": "Bearer guess"}
            assert (await console.browser.request(method, url, headers=wrong)).status == 401, (method, path)
        await console.login()
        example = {"text": "发票怎么开", "intent": "human"}
        refused = await console.browser.post(console.url("/admin/api/nlu/examples"), json=example)
        assert refused.status == 403 and "X-CSRF-Token" in (await refused.json())["error"]
        taught = await console.browser.post(console.url("/admin/api/nlu/examples"), json=example,
                                            headers={"X-CSRF-Token": await console.csrf()})  # fmt: skip
        assert taught.status == 201, await taught.text()
        listed = await console.browser.get(console.url("/admin/api/nlu/examples"))
        assert [e["text"] for e in (await listed.json())["examples"]] == ["发票怎么开"]


async def test_the_inbox_groups_similar_questions_most_asked_first(migrated: Config, clock: ManualClock) -> None:
    async with running(with_admin(migrated), clock) as shop:
        follower = shop.follower()
        sent = [("o_a", "发票怎么开"), ("o_b", "怎么开发票"), ("o_c", "怎么开发票"), ("o_d", PUZZLE),
                ("o_e", "黑洞是什么")]  # fmt: skip
        for openid, text in sent:
            clock.advance(minutes=1)
            assert FALLBACK in (await follower.send_text(openid, text)).shown, text
        response = await shop.session.get(shop.server.make_url("/admin/api/nlu/unanswered/groups"), headers=BEARER)
        assert response.status == 200, await response.text()
        groups = (await response.json())["groups"]
        assert [(g["total"], [(q["text"], q["count"]) for q in g["questions"]]) for g in groups] == [
            (3, [("怎么开发票", 2), ("发票怎么开", 1)]),
            (1, [("黑洞是什么", 1)]),
            (1, [(PUZZLE, 1)]),
        ], "similar wordings together, the group asked most first, then the most recent"
        guess = groups[0]["guess"]
        assert guess["intent"] and guess["label"] and 0 < guess["confidence"] < 1


def test_grouping_is_by_shared_two_character_words() -> None:
    from dialogs.understanding.grouping import bigrams, group, similarity

    assert similarity(bigrams("发票怎么开"), bigrams("怎么开发票")) == 0.75
    assert similarity(bigrams("发票怎么开"), bigrams("黑洞是什么")) == 0.0
    assert group(["怎么开发票", "黑洞是什么", "发票怎么开", "好", "好"]) == [[0, 2], [1], [3, 4]]
    assert group([]) == [] and bigrams("") == frozenset()
