"""What the gateway asks Redis about a sender in the dedup round trip: the window a message opens (once per
message, retries included) and the dialog state its handler reads (read once, not again on the handler thread)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from bot.process.config import Config
from bot.web.runtime import RESOURCES
from store.outbox.windows import CsWindows
from tests.gateway_support import running


async def test_messages_and_menu_clicks_open_their_windows_and_other_events_none(migrated: Config) -> None:
    async with running(migrated) as shop:
        resources = shop.app[RESOURCES]
        windows = CsWindows(resources.redis, resources.key)
        follower = shop.follower()
        now = shop.clock.now

        await follower.send_event("o_view", "VIEW", "https://shop.example.com/")
        assert windows.verdict("o_view", now()) == "closed", "opening a menu link grants nothing"
        await follower.click("o_click", "MY_ORDERS")
        assert windows.verdict("o_click", now()) == "click"
        await follower.send("o_pic", {"MsgType": "image", "PicUrl": "http://x/1.jpg", "MediaId": "m1"})
        assert windows.verdict("o_pic", now()) == "message"
        await follower.follow("o_new")
        assert windows.verdict("o_new", now()) == "click", "a follow opens the short window"


async def test_a_retry_does_not_reopen_a_used_window(migrated: Config) -> None:
    async with running(migrated) as shop:
        resources = shop.app[RESOURCES]
        windows = CsWindows(resources.redis, resources.key)
        follower = shop.follower()
        xml = follower.build_xml("o_retry", {"MsgType": "text", "Content": "你好"})
        assert "欢迎来到" in (await follower.deliver(xml, "o_retry")).shown
        for _ in range(5):
            assert windows.consume("o_retry", shop.clock.now()) == "message"
        assert windows.verdict("o_retry", shop.clock.now()) == "used_up"

        shop.clock.advance(seconds=5)
        again = await follower.deliver(xml, "o_retry")  # WeChat retries the same MsgId
        assert "欢迎来到" in again.shown, "the stored reply"
        assert windows.verdict("o_retry", shop.clock.now()) == "used_up", "the retry is not a new interaction"

        await follower.send_text("o_retry", "你好")
        assert windows.verdict("o_retry", shop.clock.now()) == "message", "a new message opens a fresh window"


@contextmanager
def commands_on(client: redis.Redis, prefix: str) -> Iterator[list[list[str]]]:
    """Every command Redis runs that names one of `prefix`'s keys, while the block runs (MONITOR), each followed by
    the connection that sent it."""
    seen: list[list[str]] = []
    end = f"{prefix}end-of-watch"
    ready = threading.Event()

    def watch() -> None:
        with client.monitor() as monitor:
            ready.set()
            while True:
                seen_command = monitor.next_command()
                command = seen_command["command"]
                if end in command:
                    return
                if prefix in command:  # the sending connection last, e.g. "@127.0.0.1:50622"
                    seen.append([*command.split(), f"@{seen_command['client_address']}:{seen_command['client_port']}"])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ready.wait(5)
    client.get(f"{prefix}monitor-is-on")
    try:
        yield seen
    finally:
        client.get(end)
        watcher.join(10)
        assert not watcher.is_alive()


async def test_a_keyword_answer_reads_the_state_once_and_writes_nothing_back(migrated: Config) -> None:
    prefix = migrated.redis.prefix
    async with running(migrated) as shop:
        follower = shop.follower()
        await follower.send_text("o_warm", "你好")  # connections and scripts are loaded: steady state below
        client = redis.Redis.from_url(shop.app[RESOURCES].redis_url)
        try:
            with commands_on(client, prefix) as seen:
                assert "欢迎来到" in (await follower.send_text("o_kw", "你好")).shown
            names = [command[0].strip('"').upper() for command in seen if "o_kw" in " ".join(command)]
        finally:
            client.close()
    assert names.count("MGET") == 1, names
    assert "DEL" not in names and "SET" in names, names  # the claim; no state to delete or write
    assert names.count("EVALSHA") == 3, names  # the claim (with the nonce), the window record, the stored reply


async def test_a_flow_step_reads_the_state_once_and_its_write_reaches_the_next_message(migrated: Config) -> None:
    prefix = migrated.redis.prefix
    async with running(migrated) as shop:
        follower = shop.follower()
        await follower.send_text("o_warm", "你好")
        client = redis.Redis.from_url(shop.app[RESOURCES].redis_url)
        try:
            with commands_on(client, prefix) as seen:
                assert "请告诉我您的生日" in (await follower.send_text("o_bd", "设置生日")).shown
            names = [command[0].strip('"').upper() for command in seen if "o_bd" in " ".join(command)]
            writes = [c for c in seen if c[0].strip('"').upper() == "SET" and "dialog:o_bd" in c[1]]
        finally:
            client.close()
        assert names.count("MGET") == 1 and len(writes) == 1, seen

        # each step reads what the previous one wrote, message after message
        assert "确认把生日设为5月20日" in (await follower.send_text("o_bd", "5月20日")).shown
        assert "确认把生日设为6月1日" in (await follower.send_text("o_bd", "6月1日")).shown
        assert "6月1日" in (await follower.send_text("o_bd", "是")).shown


async def test_the_default_reply_mark_goes_out_with_the_state_write(migrated: Config) -> None:
    """The fallback's once-per-interval mark is written on the gateway's connection with the state, not by the
    handler thread in a round trip of its own, and the follower's next message reads it."""
    prefix = migrated.redis.prefix
    async with running(migrated) as shop:
        follower = shop.follower()
        assert "没太明白" in (await follower.send_text("o_fb", "今天天气怎么样")).shown
        client = redis.Redis.from_url(shop.app[RESOURCES].redis_url)
        try:
            with commands_on(client, prefix) as seen:
                assert "还在学习中" in (await follower.send_text("o_fb", "今天天气怎么样")).shown
        finally:
            client.close()
        (mark,) = [c for c in seen if c[0].strip('"').upper() == "SET" and "default-reply:o_fb" in c[1]]
        (state,) = [c for c in seen if c[0].strip('"').upper() == "SET" and "dialog:o_fb" in c[1]]
        (read,) = [c for c in seen if c[0].strip('"').upper() == "MGET" and "dialog:o_fb" in c[1]]
        assert mark[-1] == state[-1] == read[-1], seen  # the gateway's pipelined connection
        assert abs(seen.index(state) - seen.index(mark)) == 1, seen  # sent together, one after the other
        assert "需要人工客服帮忙吗" in (await follower.send_text("o_fb", "今天天气怎么样")).shown
