"""Replayed callbacks over real signed HTTP: a stale or reused signed query is refused before anything is
handled; WeChat's byte-identical retries still get the one reply; safe mode takes encrypted messages only."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client import REGISTRY

from bot.process.config import Config
from bot.web.runtime import RESOURCES
from bot.wechat.replay import fresh_timestamp, nonce_for
from tests.gateway_support import CountingHandler, Running, count_texts, running, with_mode

WINDOW_S = 300


def counting(shop: Running) -> CountingHandler:
    return count_texts(shop, lambda count, content: f"第{count}次处理：{content}")


def compatible(config: Config) -> Config:
    return dataclasses.replace(config, wechat=dataclasses.replace(config.wechat, mode="compatible"))


def forget_replies(shop: Running) -> int:
    """What the reply cache's expiry does after 120 s, at once: drop every stored reply of this shop."""
    redis = shop.app[RESOURCES].redis
    keys = list(redis.scan_iter(f"{shop.config.redis.prefix}dedup:*"))
    return redis.delete(*keys) if keys else 0


@pytest.mark.parametrize("moved_s", [WINDOW_S + 1, -(WINDOW_S + 1)])
async def test_a_timestamp_outside_the_window_is_refused_and_not_handled(migrated: Config, moved_s: int) -> None:
    async with running(migrated) as shop:
        counter = counting(shop)
        follower = shop.follower()
        query, body = follower.signed(follower.build_xml("o_t", {"MsgType": "text", "Content": "买"}), "o_t")
        shop.clock.advance(seconds=moved_s)  # the request is now that old (or that far in the future)
        refused = await follower.post(query, body)
        assert (refused.status, refused.body) == (403, "stale timestamp")
        assert counter.calls == 0

        shop.clock.advance(seconds=-moved_s + (WINDOW_S - 1 if moved_s > 0 else -(WINDOW_S - 1)))
        inside = await follower.post(query, body)
        assert inside.status == 200 and "第1次处理：买" in inside.body, "just inside the window either side"


async def test_a_year_old_callback_url_is_refused(migrated: Config) -> None:
    async with running(migrated) as shop:
        counter = counting(shop)
        follower = shop.follower()
        query, body = follower.signed(follower.build_xml("o_y", {"MsgType": "text", "Content": "买"}), "o_y")
        assert (await follower.post(query, body)).status == 200
        shop.clock.advance(days=365)
        assert (await follower.post(query, body)).status == 403
        assert counter.calls == 1


async def test_a_reused_nonce_with_another_body_or_sender_is_refused(migrated: Config) -> None:
    before = REGISTRY.get_sample_value("wxshop_rejected_total", {"reason": "replayed"}) or 0.0
    async with running(migrated) as shop:
        counter = counting(shop)
        follower = shop.follower()
        xml = follower.build_xml("o_victim", {"MsgType": "text", "Content": "你好"})
        query, body = follower.signed(xml, "o_victim")
        first = await follower.post(query, body)
        assert first.status == 200 and counter.calls == 1

        for forged in (
            body.replace("你好", "下单 100 件"),
            body.replace("o_victim", "o_someone_else"),
            body.replace("</xml>", "<Extra>1</Extra></xml>"),
        ):
            refused = await follower.post(query, forged)
            assert (refused.status, refused.body) == (403, "replayed"), forged
        dressed_up = await follower.post({**query, "msg_signature": "0" * 40}, body.replace("你好", "退款"))
        assert dressed_up.status == 403, "an unchecked msg_signature does not make the nonce new"
        assert counter.calls == 1, "nothing forged was handled"
        metrics = await (await shop.session.get(shop.server.make_url("/metrics"))).text()
        assert f'wxshop_rejected_total{{reason="replayed"}} {before + 4}' in metrics


async def test_a_reused_nonce_is_refused_even_when_the_forgery_comes_first_after_a_lost_reply(
    migrated: Config,
) -> None:
    """The memory belongs to the nonce, not to the message: a new MsgId under a used nonce is refused too."""
    async with running(migrated) as shop:
        counter = counting(shop)
        follower = shop.follower()
        xml = follower.build_xml("o_v", {"MsgType": "text", "Content": "你好"})
        query, body = follower.signed(xml, "o_v")
        assert (await follower.post(query, body)).status == 200
        fresh_message = follower.build_xml("o_v", {"MsgType": "text", "Content": "你好"})  # another MsgId
        assert (await follower.post(query, fresh_message)).status == 403
        assert counter.calls == 1


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
async def test_a_byte_identical_retry_gets_the_same_reply_and_is_handled_once(migrated: Config, mode: str) -> None:
    async with running(with_mode(migrated, mode)) as shop:
        counter = counting(shop)
        follower = shop.follower(mode)
        xml = follower.build_xml("o_r", {"MsgType": "text", "Content": "买一件"})
        query, body = follower.signed(xml, "o_r")
        answers = [await follower.post(query, body) for _ in range(3)]
        shown = [follower.accept(a, query, "o_r", True)[1] for a in answers]
        assert [a.status for a in answers] == [200, 200, 200]
        assert shown == ["第1次处理：买一件"] * 3
        assert counter.calls == 1


async def test_a_replay_after_the_reply_is_forgotten_is_refused_inside_the_window(migrated: Config) -> None:
    async with running(migrated) as shop:
        counter = counting(shop)
        follower = shop.follower()
        query, body = follower.signed(follower.build_xml("o_late", {"MsgType": "text", "Content": "买"}), "o_late")
        assert (await follower.post(query, body)).status == 200

        shop.clock.advance(seconds=60)
        cached = await follower.post(query, body)
        assert cached.status == 200 and "第1次处理：买" in cached.body, "while the reply is kept: the same reply"

        shop.clock.advance(seconds=65)  # 125 s after: the reply cache (120 s) has forgotten the message
        assert forget_replies(shop) == 1
        replayed = await follower.post(query, body)
        assert (replayed.status, replayed.body) == (403, "replayed")
        assert counter.calls == 1, "never handled twice"


async def test_the_nonce_is_kept_as_long_as_its_timestamp_is_fresh(migrated: Config) -> None:
    async with running(migrated) as shop:
        follower = shop.follower()
        query, body = follower.signed(follower.build_xml("o_n", {"MsgType": "text", "Content": "你好"}), "o_n")
        assert (await follower.post(query, body)).status == 200
        redis = shop.app[RESOURCES].redis
        (key,) = redis.scan_iter(f"{shop.config.redis.prefix}nonce:*")
        assert WINDOW_S - 5 <= redis.ttl(key) <= WINDOW_S + 1


async def test_safe_mode_refuses_plaintext_and_compatible_mode_takes_both(migrated: Config) -> None:
    async with running(with_mode(migrated, "safe")) as shop:
        assert shop.config.wechat.mode == "safe", "safe is the default"
        counter = counting(shop)
        plain = await shop.follower("plain").send_text("o_p", "你好")
        assert [a.status for a in plain.attempts] == [403] and plain.attempts[0].body == "plaintext refused"
        assert counter.calls == 0
        for mode in ("safe", "compatible"):
            encrypted = await shop.follower(mode).send_text("o_p", "你好")
            assert not encrypted.failed and encrypted.shown.startswith("第"), (mode, encrypted.error)

    async with running(compatible(with_mode(migrated, "safe"))) as shop:
        counter = counting(shop)
        for mode in ("plain", "compatible", "safe"):
            delivery = await shop.follower(mode).send_text("o_c", "你好")
            assert not delivery.failed, (mode, delivery.error)
        assert counter.calls == 3


async def test_plain_mode_without_a_key_takes_plaintext_whatever_the_mode_says(migrated: Config) -> None:
    async with running(with_mode(migrated, "plain")) as shop:
        assert shop.config.wechat.mode == "safe"
        delivery = await shop.follower("plain").send_text("o_plain", "你好")
        assert not delivery.failed, delivery.error


@pytest.mark.parametrize(("moved_s", "status"), [(WINDOW_S - 1, 200), (WINDOW_S + 1, 403), (-(WINDOW_S + 1), 403)])
async def test_the_url_check_has_the_same_window(migrated: Config, moved_s: int, status: int) -> None:
    async with running(migrated) as shop:
        query = shop.signed_query(echostr="e123")
        shop.clock.advance(seconds=moved_s)
        response = await shop.session.get(shop.url, params=query)
        assert response.status == status
        assert (await response.text()) == ("e123" if status == 200 else "stale timestamp")


def test_fresh_timestamp_bounds_and_junk() -> None:
    now = 1_800_000_000.4
    assert fresh_timestamp("1800000000", now, 300) == 1_800_000_000
    assert fresh_timestamp("1799999701", now, 300) == 1_799_999_701
    assert fresh_timestamp("1799999699", now, 300) is None
    assert fresh_timestamp("1800000300", now, 300) == 1_800_000_300
    assert fresh_timestamp("1800000301", now, 300) is None
    for junk in ("", "-1800000000", "1800000000.0", " 1800000000", "1" * 13, "１８００"):
        assert fresh_timestamp(junk, now, 300) is None, junk


def test_nonce_memory_lasts_until_the_timestamp_goes_stale() -> None:
    query = {"timestamp": "1000", "nonce": "n", "signature": "s"}
    assert nonce_for(query, 1000, b"x", "p:", 1000.0, 300).ttl_s == 301
    assert nonce_for(query, 1000, b"x", "p:", 1299.5, 300).ttl_s == 1
    assert nonce_for(query, 1300, b"x", "p:", 1000.0, 300).ttl_s == 601
    same = nonce_for(query, 1000, b"x", "p:", 1000.0, 300)
    assert same.key.startswith("p:nonce:") and same.digest != nonce_for(query, 1000, b"y", "p:", 1000.0, 300).digest
    unchecked = nonce_for({**query, "msg_signature": "m", "encrypt_type": "aes"}, 1000, b"x", "p:", 1000.0, 300)
    assert unchecked.key == same.key, "keyed by what the signature check covered, nothing else in the query"
