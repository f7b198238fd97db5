"""WeChat's retries and the 5-second deadline: one side effect, identical replies, never a late answer."""

from __future__ import annotations

import asyncio
import threading
import time

from bot.process.config import Config
from bot.wechat.gateway import INBOUND
from tests.gateway_support import running, with_mode


class SlowCounter:
    """A handler with a visible side effect that takes `seconds` to answer."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, message) -> str:
        with self._lock:
            self.calls += 1
            n = self.calls
        time.sleep(self.seconds)
        return f"第{n}次处理：{message.content}"


async def test_concurrent_retries_share_one_run_and_one_reply(migrated: Config) -> None:
    async with running(migrated) as shop:
        slow = SlowCounter(0.4)
        shop.app[INBOUND].robot._handlers["text"].insert(0, (slow, 1))
        follower = shop.follower()
        xml = follower.build_xml("o_retry", {"MsgType": "text", "Content": "买一件"})

        deliveries = await asyncio.gather(*(follower.deliver(xml, "o_retry") for _ in range(3)))
        bodies = {d.attempts[0].body for d in deliveries}
        assert slow.calls == 1
        assert len(bodies) == 1 and "第1次处理：买一件" in bodies.pop()
        assert all(d.shown == "第1次处理：买一件" for d in deliveries)

        later = await follower.deliver(xml, "o_retry")
        assert later.shown == "第1次处理：买一件" and slow.calls == 1, "a retry after completion gets the cached reply"

        other = await follower.send_text("o_retry", "买一件")
        assert other.shown == "第2次处理：买一件", "a new MsgId is a new message"


async def test_events_are_deduplicated_by_sender_time_and_key(migrated: Config) -> None:
    async with running(migrated) as shop:
        calls: list[str] = []

        def count(message) -> str:
            calls.append(message.key)
            return "ok"

        shop.app[INBOUND].robot._handlers["click_event"].insert(0, (count, 1))
        follower = shop.follower()
        xml = follower.build_xml("o_ev", {"MsgType": "event", "Event": "CLICK", "EventKey": "BROWSE"})
        await asyncio.gather(*(follower.deliver(xml, "o_ev", is_user_message=False) for _ in range(3)))
        other_key = follower.build_xml("o_ev", {"MsgType": "event", "Event": "CLICK", "EventKey": "MY_ORDERS"})
        await follower.deliver(other_key, "o_ev", is_user_message=False)
        assert calls == ["BROWSE", "MY_ORDERS"]


async def test_a_reply_slower_than_the_deadline_is_answered_empty_at_once(migrated: Config) -> None:
    config = with_mode(migrated, "plain", reply_deadline_ms=200)
    async with running(config) as shop:
        slow = SlowCounter(0.8)
        shop.app[INBOUND].robot._handlers["text"].insert(0, (slow, 1))
        follower = shop.follower()
        xml = follower.build_xml("o_late", {"MsgType": "text", "Content": "慢"})
        first = await follower.deliver(xml, "o_late")
        assert first.attempts[0].status == 200 and not first.failed
        assert first.attempts[0].body == "", "answered before the handler finished"
        retry = await follower.deliver(xml, "o_late")
        assert retry.attempts[0].body == "", "a retry of a late message answers empty too: the reply goes by CS"
        assert slow.calls == 1
