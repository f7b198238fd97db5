"""The outbound gateway against the MP API emulator: one token fetch across processes, one refetch on 40001,
and a reply that missed the deadline arriving as a customer-service message."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys

import pytest
from aiohttp.test_utils import TestServer

from bot.process.config import Config
from bot.process.resources import open_resources
from bot.sandbox import World
from bot.sandbox.mp_api import create_mp_app
from bot.sandbox.mp_state import mp_state
from bot.web.runtime import RESOURCES
from bot.wechat.api import WeChatGateway
from bot.wechat.gateway import INBOUND, LATE_TASKS
from store.core.clock import ManualClock
from store.core.wechat_errors import OutOfWindow, TokenInvalid
from tests.gateway_support import running, with_mode
from tests.support import ROOT, child_env
from tests.test_gateway_retries import SlowCounter


@pytest.fixture
async def mp(migrated: Config):
    clock = ManualClock()
    world = World(migrated.wechat.app_id, migrated.wechat.app_secret, clock)
    server = TestServer(create_mp_app(world), host="127.0.0.1")
    await server.start_server()
    config = dataclasses.replace(
        migrated, wechat=dataclasses.replace(migrated.wechat, api_base_url=str(server.make_url("")).rstrip("/"))
    )
    yield config, world, mp_state(server.app), clock
    await server.close()


async def test_two_processes_needing_a_token_fetch_it_once(mp, env: dict[str, str]) -> None:
    config, _world, state, _ = mp
    env = {**env, "WXSHOP_WECHAT__API_BASE_URL": config.wechat.api_base_url}
    command = [sys.executable, "-m", "bot", "wechat", "token"]

    def run_both() -> list[subprocess.CompletedProcess[str]]:
        procs = [
            subprocess.Popen(command, env=child_env(env), cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)
        ]
        outputs = [p.communicate(timeout=60)[0] for p in procs]
        return [
            subprocess.CompletedProcess(p.args, p.returncode, out, "") for p, out in zip(procs, outputs, strict=True)
        ]

    results = await asyncio.to_thread(run_both)
    assert [r.returncode for r in results] == [0, 0], results
    assert results[0].stdout == results[1].stdout and "access token ok" in results[0].stdout
    assert state.token_fetches == 1


async def test_a_refused_token_is_refetched_once_and_never_looped(mp) -> None:
    config, world, state, clock = mp
    world.follow("o_fan")
    world.record_interaction("o_fan", "message")
    resources = open_resources(config)
    gateway = WeChatGateway(config, resources.redis)
    try:
        await asyncio.to_thread(gateway.send_text, "o_fan", "第一条")
        assert state.token_fetches == 1

        state.inject_error("/cgi-bin/message/custom/send", 40001, times=1)
        await asyncio.to_thread(gateway.send_text, "o_fan", "第二条")
        assert state.token_fetches == 2, "one refetch"
        assert [d.payload["text"]["content"] for d in world.delivered("o_fan")] == ["第一条", "第二条"]

        state.inject_error("/cgi-bin/message/custom/send", 40001, times=2)
        with pytest.raises(TokenInvalid):
            await asyncio.to_thread(gateway.send_text, "o_fan", "第三条")
        assert state.token_fetches == 3, "a second refusal is reported, not retried"

        world.follow("o_quiet")
        clock.advance(minutes=2)  # the follow window (3 messages in 1 minute) has closed
        with pytest.raises(OutOfWindow):
            await asyncio.to_thread(gateway.send_text, "o_quiet", "没有对话窗口")
    finally:
        gateway.close()
        await resources.aclose()


async def test_a_late_reply_arrives_as_a_customer_service_message(mp) -> None:
    config, world, _state, clock = mp
    config = with_mode(config, "plain", reply_deadline_ms=200)
    async with running(config, clock=clock) as shop:
        slow = SlowCounter(0.6)
        shop.app[INBOUND].robot._handlers["text"].insert(0, (slow, 1))
        world.follow("o_slow")
        follower = shop.follower(world=world)
        delivery = await follower.send_text("o_slow", "有货吗")
        assert delivery.attempts[0].body == "" and not delivery.failed
        assert world.delivered("o_slow") == []
        await asyncio.gather(*shop.app[LATE_TASKS])
        sent = world.delivered("o_slow")
        assert [d.kind for d in sent] == ["custom"]
        assert sent[0].payload["text"]["content"] == "第1次处理：有货吗"
        assert slow.calls == 1
        assert shop.app[RESOURCES] is not None
