"""The pay link and the pay notice over HTTP, against the sandbox's OAuth and WeChat Pay emulators, driven by
wechatpy on both sides: link → OAuth → 统一下单 → the buyer confirms → signed notice → paid order, once."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis
from aiohttp import web

from bot.pay.pages import client_ip, oauth_base_url
from bot.process.config import Config
from bot.sandbox.pay_xml import parse_xml
from bot.sandbox.server import Sandbox
from bot.web.forwarded import parse_networks
from bot.web.runtime import RESOURCES
from store.catalog.inventory import stock_of
from store.catalog.products import Product
from store.members.accounts import Member
from store.orders.checkout import CANCELLED, PAID, UNPAID, CartLine, Order, cancel_if_unpaid, create_order
from store.orders.payments import Payment, Refund
from store.outbox.notices import Notice
from store.outbox.windows import CsWindows
from store.promotions.coupons import USED, Coupon
from tests.order_support import BUYER, HOME, OTHER, RULES, START, coupon
from tests.pay_support import PayWorld, pay_world


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        w.sandbox.world.follow(BUYER)
        yield w


def new_order(w: PayWorld, *lines: tuple[int, int], coupons: tuple[str, ...] = (), openid: str = BUYER) -> Order:
    lines = lines or ((w.shop.dress, 2),)
    return create_order(openid, [CartLine(s, q) for s, q in lines], HOME, list(coupons), 0, w.clock.now(),
                        rules=RULES)  # fmt: skip


def reply_code(attempt) -> str:  # type: ignore[no-untyped-def]
    return parse_xml(attempt.reply.encode()).get("return_code", "")


async def paid_at_wechat(w: PayWorld, order: Order, openid: str = BUYER) -> None:
    params = await w.pay_params(order.order_no, openid)
    answer = await w.confirm(params, openid)
    assert answer["err_msg"] == "get_brand_wcpay_request:ok", answer


async def test_pay_link_to_paid_order_end_to_end(world: PayWorld) -> None:
    code = coupon(BUYER, "percent", 90)
    order = new_order(world, coupons=(code,))
    assert order.payable_fen == 31800 * 9 // 10 - 2000  # 9折 + 满200减20

    first = await world.session.get(f"{world.shop_url}/pay/{order.order_no}", allow_redirects=False)
    location = first.headers["Location"]
    assert location.startswith(f"{world.sandbox_url}/connect/oauth2/authorize?appid={world.config.wechat.app_id}")
    assert "scope=snsapi_base" in location and "state=pay" in location and location.endswith("#wechat_redirect")

    page = await world.follow_oauth(location, BUYER)
    text = await page.text()
    assert page.status == 200, text
    assert "¥266.20" in text and "立即支付" in text and "/pay/assets/pay.js" in text
    assert "/sandbox/jsbridge.js" not in text, "the JSBridge stand-in only when the sandbox preview is mounted"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    params = (await world.pay_params(order.order_no, BUYER))
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["timeStamp"] == str(int(START.timestamp())), "JSAPI timestamp from our clock"

    pay_order = world.sandbox.pay.order(order.order_no)
    assert (pay_order.total_fee, pay_order.openid) == (order.payable_fen, BUYER)
    assert pay_order.notify_url == world.notify_url
    assert pay_order.time_expire == order.expires_at, "time_expire is our deadline, from our clock"
    assert pay_order.body == "微选小店-法式碎花连衣裙 等2件"

    answer = await world.confirm(params, BUYER)
    assert answer["err_msg"] == "get_brand_wcpay_request:ok"
    assert Order.get_by_id(order.id).status == UNPAID, "the bridge's ok is not a payment: the notice is"

    attempts = await world.sandbox.pay.deliver_due()
    assert [(a.http_status, reply_code(a)) for a in attempts] == [(200, "SUCCESS")]
    paid = Order.get_by_id(order.id)
    assert (paid.status, paid.transaction_id) == (PAID, pay_order.transaction_id)
    assert Coupon.get(Coupon.code == code).status == USED
    assert Member.get(Member.openid == BUYER).total_spend_fen == order.payable_fen
    status = await (await world.session.get(f"{world.shop_url}/pay/{order.order_no}/status")).json()
    assert status == {"status": "paid", "paid": True}

    world.clock.advance(minutes=1)
    assert await world.sandbox.pay.deliver_due() == [], "acknowledged: WeChat stops notifying"

    resources = world.app[RESOURCES]
    windows = CsWindows(resources.redis, resources.key)
    assert windows.verdict(BUYER, world.clock.now()) == "payment", "the payment opened the 48 h window"
    [notice] = Notice.select().where(Notice.openid == BUYER)
    assert (notice.kind, notice.dedup_key) == ("paid", f"paid:{order.order_no}"), "queued with the payment"
    await world.deliver_notices()
    await world.deliver_notices()
    texts = [d.payload["text"]["content"] for d in world.sandbox.world.delivered(BUYER)]
    assert len(texts) == 1 and texts[0].startswith("支付成功！") and order.order_no in texts[0], texts
    assert world.sandbox.world.refused() == []


async def test_duplicate_and_concurrent_notices_mark_paid_once(world: PayWorld) -> None:
    order = new_order(world)
    await paid_at_wechat(world, order)
    attempts = await world.sandbox.pay.deliver_duplicates(order.order_no, copies=6)
    assert [reply_code(a) for a in attempts] == ["SUCCESS"] * 6
    world.clock.advance(seconds=15)
    notice = world.sandbox.pay.notice_xml(world.sandbox.pay.order(order.order_no))
    again = await world.sandbox.pay.send_raw(world.notify_url, notice)  # a retry after the ack
    assert reply_code(again) == "SUCCESS"
    assert Payment.select().count() == 1
    assert Member.get(Member.openid == BUYER).total_spend_fen == order.payable_fen
    assert stock_of(world.shop.dress) == 8
    assert [n.kind for n in Notice.select().where(Notice.openid == BUYER)] == ["paid"], "one notice for the buyer"
    await world.deliver_notices()
    [paid] = world.sandbox.world.delivered(BUYER)
    assert paid.kind == "custom" and order.order_no in paid.payload["text"]["content"], "inside the payment window"
    assert world.sandbox.world.refused() == []


@pytest.mark.parametrize(
    ("forgery", "resign"),
    [
        ({"total_fee": 1}, False),  # tampered amount, original signature: the signature fails
        ({"total_fee": 1}, True),  # signed, but not the order's amount
        ({"mch_id": "1900000999"}, True),  # another merchant
        ({"appid": "wx0000000000000bad"}, True),  # another account
        ({"out_trade_no": "20261124100000NOSUCHORD"}, True),  # unknown order
        ({}, None),  # a forged signature over the true fields
    ],
    ids=["tampered-amount", "wrong-amount", "wrong-mch_id", "wrong-appid", "unknown-order", "forged-sign"],
)
async def test_hostile_notices_get_fail_and_change_nothing(world: PayWorld, forgery: dict, resign: bool | None) -> None:
    order = new_order(world)
    await paid_at_wechat(world, order)
    xml = world.sandbox.pay.notice_xml(world.sandbox.pay.order(order.order_no), resign=bool(resign), **forgery)
    if resign is None:
        xml = re.sub(r"<sign>.*?</sign>", "<sign><![CDATA[0123456789ABCDEF0123456789ABCDEF]]></sign>", xml)
        assert "0123456789ABCDEF" in xml
    attempt = await world.sandbox.pay.send_raw(world.notify_url, xml)
    assert attempt.http_status == 200 and reply_code(attempt) == "FAIL"
    assert Order.get_by_id(order.id).status == UNPAID
    assert Payment.select().count() == 0 and Member.select().count() == 0


async def test_garbage_and_entity_bombs_are_refused(world: PayWorld) -> None:
    for body in ("not xml", "<xml><return_code>SUCCESS</return_code></xml>",
                 '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><sign>&a;</sign></xml>'):  # fmt: skip
        attempt = await world.sandbox.pay.send_raw(world.notify_url, body)
        assert reply_code(attempt) == "FAIL", body


async def test_failed_payment_notice_is_acknowledged_and_changes_nothing(world: PayWorld) -> None:
    order = new_order(world)
    await paid_at_wechat(world, order)
    xml = world.sandbox.pay.notice_xml(world.sandbox.pay.order(order.order_no), result_code="FAIL",
                                       err_code="BANKERROR")  # fmt: skip
    assert reply_code(await world.sandbox.pay.send_raw(world.notify_url, xml)) == "SUCCESS"
    assert Order.get_by_id(order.id).status == UNPAID


async def test_replay_after_cancel_records_the_payment_and_queues_its_refund(world: PayWorld) -> None:
    order = new_order(world)
    await paid_at_wechat(world, order)  # paid at WeChat; the notice is held back
    world.clock.advance(minutes=31)
    assert cancel_if_unpaid(order.order_no, world.clock.now(), reason="timeout")  # WeChat was unreachable
    attempts = await world.sandbox.pay.deliver_due()
    assert [reply_code(a) for a in attempts] == ["SUCCESS"], "recorded: WeChat must stop re-notifying"
    assert Order.get_by_id(order.id).status == CANCELLED and stock_of(world.shop.dress) == 10
    refund = Refund.get(Refund.order_no == order.order_no)
    assert (refund.kind, refund.amount_fen, refund.status) == ("late_payment", order.payable_fen, "pending")
    client = redis.Redis.from_url(world.app[RESOURCES].redis_url)
    try:
        assert client.exists(f"arq:job:refund:{refund.refund_no}")
    finally:
        client.close()


async def test_another_follower_cannot_pay_someone_elses_order(world: PayWorld) -> None:
    order = new_order(world)
    page = await world.open_pay_link(order.order_no, OTHER)
    assert page.status == 403 and "这不是您的订单" in await page.text()
    assert order.order_no not in world.sandbox.pay.ledger.orders


async def test_orders_that_cannot_be_paid_get_a_clear_page(world: PayWorld) -> None:
    missing = await world.session.get(f"{world.shop_url}/pay/20261124100000NOSUCHORD", allow_redirects=False)
    assert missing.status == 404 and "订单不存在" in await missing.text()
    bad = await world.session.get(f"{world.shop_url}/pay/<script>", allow_redirects=False)
    assert bad.status == 404

    expired = new_order(world)
    world.clock.advance(minutes=30)
    page = await world.session.get(f"{world.shop_url}/pay/{expired.order_no}", allow_redirects=False)
    assert page.status == 410 and "订单已超时" in await page.text()
    cancel_if_unpaid(expired.order_no, world.clock.now(), reason="timeout")
    page = await world.session.get(f"{world.shop_url}/pay/{expired.order_no}", allow_redirects=False)
    assert page.status == 410 and "已自动取消" in await page.text()

    paid = new_order(world)
    await paid_at_wechat(world, paid)
    await world.sandbox.pay.deliver_due()
    page = await world.session.get(f"{world.shop_url}/pay/{paid.order_no}", allow_redirects=False)
    assert page.status == 200 and "订单已支付" in await page.text()


async def test_a_reload_with_a_spent_code_goes_round_oauth_once_more(world: PayWorld) -> None:
    order = new_order(world)
    page = await world.open_pay_link(order.order_no, BUYER)
    assert page.status == 200
    reload = await world.session.get(page.url, allow_redirects=False)  # same ?code=…&state=pay
    assert reload.status == 302 and "state=retry" in reload.headers["Location"]
    again = await world.follow_oauth(reload.headers["Location"], BUYER)
    assert again.status == 200
    stale = await world.session.get(again.url, allow_redirects=False)  # spent code with state=retry
    assert stale.status == 400 and "微信授权失败" in await stale.text()


async def test_short_deadline_still_gets_a_valid_prepay(world: PayWorld) -> None:
    order = new_order(world)
    world.clock.advance(minutes=28)  # 2 minutes left; WeChat wants at least 5
    params = await world.pay_params(order.order_no, BUYER)
    assert params["package"].startswith("prepay_id=")
    assert world.sandbox.pay.order(order.order_no).time_expire == world.clock.now() + timedelta(minutes=5, seconds=30)


async def test_page_text_is_escaped(world: PayWorld) -> None:
    Product.update(title='<img src=x onerror="alert(1)">裙').where(Product.code == "P1").execute()
    order = new_order(world)
    text = await (await world.open_pay_link(order.order_no, BUYER)).text()
    assert "<img src=x" not in text and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;裙" in text


async def test_jsbridge_stand_in_is_loaded_when_the_sandbox_preview_is_mounted(migrated: Config) -> None:
    from bot.sandbox.preview import SANDBOX

    def mount(app: web.Application, sandbox: Sandbox) -> None:  # what setup_preview does first
        app[SANDBOX] = sandbox

    async with pay_world(migrated, before_start=mount) as w:
        order = new_order(w)
        text = await (await w.open_pay_link(order.order_no, BUYER)).text()
        assert '<script src="/sandbox/jsbridge.js"></script><script src="/pay/assets/pay.js">' in text


async def test_pay_assets_are_served(world: PayWorld) -> None:
    js = await world.session.get(f"{world.shop_url}/pay/assets/pay.js")
    assert js.status == 200 and "getBrandWCPayRequest" in await js.text()
    css = await world.session.get(f"{world.shop_url}/pay/assets/pay.css")
    assert css.status == 200 and css.content_type == "text/css"


def test_oauth_base_url_and_client_ip(config: Config) -> None:
    import dataclasses

    from aiohttp.test_utils import make_mocked_request

    real = dataclasses.replace(config, wechat=dataclasses.replace(config.wechat,
                               api_base_url="https://api.weixin.qq.com"))  # fmt: skip
    assert oauth_base_url(real) == "https://open.weixin.qq.com"
    assert oauth_base_url(config) == config.wechat.api_base_url
    chosen = dataclasses.replace(config, wechat=dataclasses.replace(config.wechat,
                                 oauth_base_url="https://oauth.example.com/"))  # fmt: skip
    assert oauth_base_url(chosen) == "https://oauth.example.com"
    proxies = parse_networks(["10.0.0.0/8"])
    peer = make_mocked_request("GET", "/pay/x", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
    assert client_ip(peer, ()) == "127.0.0.1", "no trusted proxy: the header is the client's own words"
    assert client_ip(peer, proxies) == "127.0.0.1", "a peer that is not a trusted proxy: its header is ignored"
    proxied = make_mocked_request("GET", "/pay/x", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"},
                                  transport=_peer("10.0.0.1"))  # fmt: skip
    assert client_ip(proxied, proxies) == "203.0.113.9", "the hop the trusted proxy added, not the left-most one"


def _peer(address: str) -> object:
    """A transport whose peer is `address`: what aiohttp reads `request.remote` from."""
    import asyncio

    class Transport(asyncio.Transport):
        def get_extra_info(self, name: str, default: object = None) -> object:
            return (address, 443) if name == "peername" else default

    return Transport()
