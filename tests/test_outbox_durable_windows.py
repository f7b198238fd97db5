"""The window a payment opens is kept in the database with the payment: a notice it causes reaches the follower
as a customer-service message even when Redis was away at the payment or has forgotten the window since."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from bot.process.config import Config, RedisConfig
from bot.sandbox.pay_xml import parse_xml
from bot.web.runtime import RESOURCES
from store.core.clock import ManualClock, SystemClock
from store.core.db import write_transaction
from store.orders.checkout import PAID, CartLine, Order, create_order
from store.outbox.notices import CUSTOM, SENT, TEMPLATE, Notice
from store.outbox.payment_windows import PaymentWindow, open_payment_window
from store.outbox.windows import CsWindows
from tests.order_support import BUYER, HOME, RULES
from tests.outbox_support import outbox_config, outbox_rig, queue
from tests.pay_support import PayWorld, pay_world
from tests.redis_support import RedisProcess
from tests.support import ROOT, await_until, child_env


def _order(world: PayWorld) -> Order:
    return create_order(BUYER, [CartLine(world.shop.dress, 1)], HOME, [], 0, world.clock.now(), rules=RULES)


async def _pay(world: PayWorld, order: Order) -> None:
    """The buyer pays at WeChat; WeChat Pay's notice is delivered later (`deliver_due`)."""
    answer = await world.confirm(await world.pay_params(order.order_no, BUYER), BUYER)
    assert answer["err_msg"] == "get_brand_wcpay_request:ok", answer


def _paid_texts(world: PayWorld) -> list[str]:
    return [d.payload["text"]["content"] for d in world.sandbox.world.delivered(BUYER) if d.kind == "custom"]


async def test_a_payment_while_redis_is_down_is_announced_by_the_worker_once_redis_is_back(
    migrated: Config, env: dict[str, str], own_redis: RedisProcess, tmp_path: Path
) -> None:
    config = dataclasses.replace(migrated, redis=RedisConfig(url=own_redis.url, prefix=migrated.redis.prefix))
    clock = ManualClock(SystemClock().now())  # the worker process runs on the system clock
    async with pay_world(config, clock=clock) as world:
        world.sandbox.world.follow(BUYER)
        order = _order(world)
        await _pay(world, order)

        own_redis.stop()
        [attempt] = await world.sandbox.pay.deliver_due()
        assert parse_xml(attempt.reply.encode())["return_code"] == "SUCCESS"
        assert Order.get_by_id(order.id).status == PAID
        assert PaymentWindow.get_by_id(BUYER).opened_at == clock.now(), "the window committed with the payment"
        own_redis.start()  # back, and empty: it never heard of the payment

        log = tmp_path / "worker.log"
        child = {**env, "WXSHOP_REDIS__URL": own_redis.url, "WXSHOP_WECHAT__API_BASE_URL": world.sandbox_url}
        with log.open("w") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "bot", "worker"], env=child_env(child), cwd=ROOT, stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            [notice] = Notice.select().where(Notice.openid == BUYER)
            settled = lambda: Notice.get_by_id(notice.id).status not in ("pending", "sending")  # noqa: E731
            await await_until(settled, 60, "the worker to send the notice")
        finally:
            worker.terminate()
            worker.wait(30)
        sent = Notice.get_by_id(notice.id)
        assert (sent.status, sent.channel, sent.reason) == (SENT, CUSTOM, None), log.read_text()[-2000:]
        texts = _paid_texts(world)
        assert len(texts) == 1 and texts[0].startswith("支付成功！") and order.order_no in texts[0], texts
        assert world.sandbox.world.refused() == []
        windows = CsWindows(world.app[RESOURCES].redis, world.app[RESOURCES].key)
        assert windows.verdict(BUYER, clock.now()) == "payment", "the worker put the window back into Redis"


async def test_a_window_redis_forgot_is_put_back_and_one_wechat_refused_stays_shut(migrated: Config) -> None:
    async with outbox_rig(outbox_config(migrated)) as rig:
        for openid in ("o_forgot", "o_refused"):
            rig.world.follow(openid)
        rig.clock.advance(minutes=2)
        now = rig.clock.now()
        rig.world.record_interaction("o_forgot", "payment")  # WeChat opened the window; our Redis never heard
        with write_transaction():
            open_payment_window("o_forgot", now)
            open_payment_window("o_refused", now)  # a payment WeChat does not count (say, another account's)
        forgot, refused = queue("o_forgot", "paid", now), queue("o_refused", "paid", now)
        stats = await rig.drain()
        assert stats.windows_restored == 2
        assert (rig.notice(forgot).status, rig.notice(forgot).channel) == (SENT, CUSTOM)
        assert (rig.notice(refused).status, rig.notice(refused).channel) == (SENT, TEMPLATE), "fell back"
        assert [openid for openid, _, _ in rig.world.refused()] == ["o_refused"]

        again = queue("o_refused", "paid", rig.clock.now(), order_no="WX20261124002")
        await rig.drain()
        assert (rig.notice(again).status, rig.notice(again).channel) == (SENT, TEMPLATE)
        assert len(rig.world.refused()) == 1, "the refused window is not put back from the database"
        assert rig.windows.verdict("o_forgot", rig.clock.now()) == "payment"
