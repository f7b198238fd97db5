"""Bad input at the callback: refused with a clear status, logged, counted; nothing of ours crashes."""

from __future__ import annotations

import io

import pytest

from bot.process.config import Config
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


def _inbound_key():
    from bot.wechat.gateway import INBOUND

    return INBOUND
