"""Bad input at the callback: refused with a clear status, logged, counted; nothing of ours crashes."""

from __future__ import annotations

import asyncio
import io
import time

import pytest

from bot.chat.conversation import UNANSWERED, flush_unanswered
from bot.process.config import Config
from bot.wechat.inbound import MAX_TEXT_BYTES
from store.chat.nlu import list_unanswered
from tests.gateway_support import running

HEADER = (
    "<ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o_bad]]></FromUserName><CreateTime>1</CreateTime>"
)

HOSTILE = {
    "malformed": b"<xml><ToUserName>gh</ToUserName><oops></xml>",
    "not xml": b"hello there",
    "empty": b"",
    "wrong root": b"<message><MsgType>text</MsgType></message>",
    "billion laughs": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><xml>' + HEADER.encode() + b"<MsgType>text</MsgType>"
        b"<Content>&lol3;</Content><MsgId>1</MsgId></xml>"
    ),
    "external entity": (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml>'
        + HEADER.encode()
        + b"<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>"
    ),
    "not utf-8": ("<xml>" + HEADER + "<MsgType>text</MsgType><Content>你好</Content><MsgId>3</MsgId></xml>").encode(
        "gbk"
    ),
    "missing MsgType": ("<xml>" + HEADER + "<Content>x</Content></xml>").encode(),
    "missing FromUserName": b"<xml><ToUserName>gh</ToUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>",
    "non-numeric CreateTime": b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
    b"<CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>",
    "event without Event": ("<xml>" + HEADER + "<MsgType>event</MsgType></xml>").encode(),
    "encrypted but plaintext account": ("<xml>" + HEADER + "<Encrypt>abc</Encrypt></xml>").encode(),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_bodies_get_400(migrated: Config, case: str) -> None:
    async with running(migrated) as shop:
        extra = {"encrypt_type": "aes", "msg_signature": "x"} if case.startswith("encrypted") else {}
        response = await shop.session.post(shop.url, params=shop.signed_query(**extra), data=HOSTILE[case])
        assert response.status == 400, case
        metrics = await (await shop.session.get(shop.server.make_url("/metrics"))).text()
        assert 'wxshop_rejected_total{reason="bad message"}' in metrics


async def test_oversized_body_gets_413(migrated: Config) -> None:
    async with running(migrated) as shop:
        body = b"<xml>" + b"a" * (migrated.server.max_body_bytes + 1) + b"</xml>"
        response = await shop.session.post(shop.url, params=shop.signed_query(), data=io.BytesIO(body))
        assert response.status == 413

        async def stream():
            for _ in range(20):
                yield b"x" * 65536

        chunked = await shop.session.post(shop.url, params=shop.signed_query(), data=stream())
        assert chunked.status == 413, "a chunked body without Content-Length is cut off too"


async def test_unknown_message_type_gets_a_safe_reply(migrated: Config) -> None:
    async with running(migrated) as shop:
        delivery = await shop.follower().send("o_new", {"MsgType": "hologram", "Payload": "?"})
        assert delivery.attempts[0].status == 200 and not delivery.failed
        assert "暂不支持" in delivery.shown


async def test_replies_are_xml_safe(migrated: Config) -> None:
    async with running(migrated) as shop:
        robot = shop.app[_inbound_key()].robot

        def nasty(message):
            return "价格]]><script>\x00\x07 结束 ]]> 好"

        robot._handlers["text"].insert(0, (nasty, 1))
        delivery = await shop.follower().send_text("o_x", "hi")
        assert not delivery.failed, delivery.error
        assert delivery.shown == "价格]]><script> 结束 ]]> 好"


async def test_a_failing_handler_gets_a_polite_reply_and_is_counted(migrated: Config) -> None:
    async with running(migrated) as shop:
        robot = shop.app[_inbound_key()].robot

        def broken(message):
            raise RuntimeError("bug in a handler")

        robot._handlers["text"].insert(0, (broken, 1))
        delivery = await shop.follower().send_text("o_y", "下单")
        assert delivery.attempts[0].status == 200 and not delivery.failed
        assert "系统开小差" in delivery.shown
        metrics = await (await shop.session.get(shop.server.make_url("/metrics"))).text()
        assert 'wxshop_errors_total{kind="TextMessage",where="handler"}' in metrics


async def test_too_many_articles_are_cut_to_what_wechat_allows(migrated: Config) -> None:
    async with running(migrated) as shop:
        robot = shop.app[_inbound_key()].robot
        articles = [(f"商品{i}", "描述", "http://img/x.jpg", f"http://shop/{i}") for i in range(10)]
        robot._handlers["text"].insert(0, (lambda m: articles, 1))
        robot._handlers["click_event"].insert(0, (lambda m: articles, 1))
        message = await shop.follower().send_text("o_z", "看看")
        assert not message.failed and message.reply["ArticleCount"] == "1"
        event = await shop.follower().click("o_z", "BROWSE")
        assert not event.failed and event.reply["ArticleCount"] == "8"


HEAVY = {
    "nested 100,000 deep": (
        "<xml>" + HEADER + "<MsgType>text</MsgType><Content>" + "<a>" * 100_000 + "x" + "</a>" * 100_000 + "</Content>"
        "<MsgId>4</MsgId></xml>"
    ).encode(),
    "200,000 elements": ("<xml>" + HEADER + "<MsgType>text</MsgType>" + "<a/>" * 200_000 + "</xml>").encode(),
}
QUICKLY_S = 0.5  # parsed whole on the loop, each of these took over a second


async def test_deep_and_wide_bodies_are_refused_quickly_beside_a_normal_message(migrated: Config) -> None:
    async with running(migrated) as shop:

        async def post(body: bytes) -> tuple[int, float]:
            started = time.monotonic()
            response = await shop.session.post(shop.url, params=shop.signed_query(), data=body)
            await response.read()
            return response.status, time.monotonic() - started

        *refused, normal = await asyncio.gather(
            *(post(body) for body in HEAVY.values() for _ in range(3)), shop.follower().send_text("o_calm", "你好")
        )
        assert [status for status, _ in refused] == [400] * 6
        assert max(elapsed for _, elapsed in refused) < QUICKLY_S, refused
        assert [a.status for a in normal.attempts] == [200] and migrated.shop.name in normal.shown
        assert normal.attempts[0].elapsed_s < QUICKLY_S


async def test_a_huge_text_is_answered_from_its_first_2048_bytes(migrated: Config) -> None:
    async with running(migrated) as shop:
        huge = "今天天气怎么样" * 15_000  # 315 KB: tokenised whole, it took search over a second
        delivery, normal = await asyncio.gather(
            shop.follower().send_text("o_chatty", huge), shop.follower().send_text("o_calm", "你好")
        )
        assert [a.status for a in delivery.attempts] == [200] and delivery.shown and not delivery.failed
        assert delivery.attempts[0].elapsed_s < QUICKLY_S
        assert [a.status for a in normal.attempts] == [200] and migrated.shop.name in normal.shown
        # what nobody understood is in the process's collector, or already stored by the watcher's 5 s beat
        flush_unanswered(shop.app[UNANSWERED])
        [seen] = [u for u in list_unanswered(limit=500) if u.example_openid == "o_chatty"]
        assert len(seen.text.encode()) <= MAX_TEXT_BYTES and huge.startswith(seen.text), "only the cut text was read"


def _inbound_key():
    from bot.wechat.gateway import INBOUND

    return INBOUND
