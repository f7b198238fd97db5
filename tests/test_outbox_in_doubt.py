"""Statuses tell the truth: a send nobody knows the outcome of is in doubt, not failed and not sent. A template
send that got no answer goes again with its client_msg_id (WeChat answers 45065 if the first went), until WeChat
would no longer recognise the id; a customer-service send that got no answer is never repeated on its own: the
admin API counts and lists it, and an operator may queue it again, once, in the log with their name."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.process.config import Config
from store.outbox.notices import CUSTOM, IN_DOUBT, PENDING, SENT, TEMPLATE
from tests.gateway_support import running
from tests.outbox_support import outbox_config, outbox_rig, queue
from tests.test_engine import TOKEN, with_admin

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CUSTOM_SEND = "/cgi-bin/message/custom/send"
TEMPLATE_SEND = "/cgi-bin/message/template/send"


@pytest.fixture
def config(migrated: Config) -> Config:
    return with_admin(outbox_config(migrated))


async def test_an_unanswered_customer_service_send_is_in_doubt_until_an_operator_queues_it_again(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    async with outbox_rig(config) as rig, running(config, rig.clock) as shop:
        url = shop.server.make_url
        rig.world.follow("o_cs")
        rig.clock.advance(minutes=2)
        rig.interact("o_cs", "payment")
        notice = queue("o_cs", "paid", rig.clock.now())
        rig.state.lose_answers(CUSTOM_SEND)  # it reaches the follower; the answer does not reach us
        stats = await rig.drain()
        doubt = rig.notice(notice)
        assert (doubt.status, doubt.channel, stats.in_doubt) == (IN_DOUBT, CUSTOM, 1)
        assert doubt.reason.startswith("in doubt: the customer-service send got no answer (WeChat error None: HTTP 502")
        assert len(rig.world.delivered("o_cs")) == 1
        rig.clock.advance(hours=1)
        await rig.drain()
        assert len(rig.world.delivered("o_cs")) == 1, "never repeated on its own"

        async def get(path: str) -> dict:
            response = await shop.session.get(url(path), headers=AUTH)
            assert response.status == 200, await response.text()
            return await response.json()

        assert (await get("/admin/api/outbox/stats"))["in_doubt"] == 1
        listed = await get("/admin/api/outbox?status=in_doubt")
        assert [(n["id"], n["status"]) for n in listed["items"]] == [(notice, IN_DOUBT)]

        with caplog.at_level(logging.INFO, logger="wxshop.admin"):
            both = await asyncio.gather(
                *(shop.session.post(url(f"/admin/api/outbox/{notice}/retry"), headers=AUTH) for _ in range(2))
            )
        assert sorted(r.status for r in both) == [200, 409], "one action per notice"
        [line] = [r for r in caplog.records if r.getMessage() == "operator queued a notice again"]
        assert (line.notice_id, line.was, line.operator) == (notice, IN_DOUBT, "api-token")  # type: ignore[attr-defined]
        assert rig.notice(notice).status == PENDING
        assert (await get("/admin/api/outbox/stats"))["in_doubt"] == 0
        await rig.drain()
        assert rig.notice(notice).status == SENT
        assert len(rig.world.delivered("o_cs")) == 2, "the operator chose to send it again"


async def test_an_unanswered_template_send_goes_again_with_its_client_msg_id(config: Config) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_t")
        notice = queue("o_t", "paid", rig.clock.now())
        rig.state.lose_answers(TEMPLATE_SEND, times=2)
        await rig.drain()
        waiting = rig.notice(notice)
        assert (waiting.status, waiting.channel) == (PENDING, TEMPLATE) and waiting.reason.startswith("resend:")
        rig.clock.advance(seconds=30)
        rig.interact("o_t", "payment")  # a window opened meanwhile: still the same template send, not a new message
        await rig.drain()
        assert rig.notice(notice).status == PENDING, "the second answer was lost too"
        rig.clock.advance(seconds=30)
        stats = await rig.drain()
        sent = rig.notice(notice)
        assert (sent.status, sent.channel, stats.duplicates) == (SENT, TEMPLATE, 1), "45065: the first one went"
        assert [d.kind for d in rig.world.delivered("o_t")] == ["template"]
        assert sent.msgid == rig.world.delivered("o_t")[0].msgid


async def test_a_template_send_unanswered_until_wechat_forgets_its_id_is_in_doubt(config: Config) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_t")
        notice = queue("o_t", "paid", rig.clock.now())
        rig.state.lose_answers(TEMPLATE_SEND)
        await rig.drain()
        rig.clock.advance(minutes=15)  # the worker was away: WeChat no longer remembers the client_msg_id
        stats = await rig.drain()
        doubt = rig.notice(notice)
        assert (doubt.status, stats.in_doubt) == (IN_DOUBT, 1)
        assert "no longer remembers its client_msg_id" in doubt.reason
        assert len(rig.world.delivered("o_t")) == 1


async def test_resends_are_timed_from_the_first_send_which_is_what_wechat_remembers(config: Config) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_t")
        notice = queue("o_t", "paid", rig.clock.now())
        rig.state.lose_answers(TEMPLATE_SEND, times=2)
        await rig.drain()  # the first send arrives; its answer is lost
        rig.clock.advance(minutes=8)  # a backlog: the resend comes late, and its answer (45065) is lost too
        await rig.drain()
        assert rig.notice(notice).status == PENDING
        rig.clock.advance(minutes=2)  # 10 minutes after the first send: WeChat has forgotten its client_msg_id
        await rig.drain()
        assert rig.notice(notice).status == IN_DOUBT
        assert len(rig.world.delivered("o_t")) == 1, "a third send would have reached the follower again"
