"""A `wxshop serve` killed with messages in flight loses none of them: WeChat's next tries, sent to another serve
sharing the database and Redis, are handled once, and an order placed before the kill is answered with its pay
link rather than placed again. Real processes, a real redis-server of the test's own (paused on purpose) and the
test's database; the emulated WeChat API records anything sent as a customer-service message."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import aiohttp
import pytest
import redis
from aiohttp.test_utils import TestServer

from bot.process.config import Config
from bot.sandbox import World
from bot.sandbox.follower import Account, Attempt, FollowerSimulator
from bot.sandbox.mp_api import create_mp_app
from bot.sandbox.ports import free_port
from store.catalog.csv_import import import_file
from store.core.clock import SystemClock
from store.core.db import close_database, database, is_sqlite, open_database
from store.orders.checkout import Order
from tests.redis_support import RedisProcess
from tests.support import spawn, start_app_server, wait_healthy, wait_until
from tests.test_browse_chat import CATALOG
from tests.test_checkout_chat import ADDRESS, pick

pytestmark = pytest.mark.slow

BUYERS = 6


@dataclass
class Rig:
    config: Config
    env: dict[str, str]
    redis: redis.Redis
    world: World
    session: aiohttp.ClientSession
    procs: list[subprocess.Popen[str]]

    def serve(self) -> FollowerSimulator:
        """Start a `wxshop serve` on a port of its own; the follower that talks to it."""
        port = free_port()
        proc = spawn("serve", env={**self.env, "WXSHOP_SERVER__PORT": str(port)})
        self.procs.append(proc)
        wait_healthy(port, proc)
        wechat = self.config.wechat
        account = Account(wechat.token, wechat.app_id, wechat.original_id)
        return FollowerSimulator(f"http://127.0.0.1:{port}/wechat", account, self.session, SystemClock())

    def kill(self, index: int) -> None:
        proc = self.procs[index]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def claims(self) -> int:
        """Messages claimed and not settled: dedup keys still holding a pending lease."""
        keys = list(self.redis.scan_iter(f"{self.config.redis.prefix}dedup:*"))
        return sum(1 for value in self.redis.mget(keys) if value and value.startswith(b"P")) if keys else 0


@pytest.fixture
async def rig(migrated: Config, env: dict[str, str], own_redis: RedisProcess) -> AsyncIterator[Rig]:
    open_database(migrated.database.url, migrated.var_dir)
    import_file(CATALOG)
    world = World(migrated.wechat.app_id, migrated.wechat.app_secret, SystemClock())
    mp = TestServer(create_mp_app(world), host="127.0.0.1")
    await start_app_server(mp)
    child = {**env, "WXSHOP_REDIS__URL": own_redis.url, "WXSHOP_WECHAT__API_BASE_URL": str(mp.make_url("")).rstrip("/")}
    client = redis.Redis.from_url(own_redis.url)
    procs: list[subprocess.Popen[str]] = []
    try:
        async with aiohttp.ClientSession() as session:
            yield Rig(migrated, child, client, world, session, procs)
    finally:
        client.close()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            if proc.stdout:
                proc.stdout.close()
        await mp.close()
        close_database()


async def at_confirmation(follower: FollowerSimulator, openids: list[str]) -> None:
    """Each buyer one "确认" away from an order."""
    for openid in openids:
        await pick(follower, openid, "看看法式碎花雪纺连衣裙", "红色 M")
        await follower.send_text(openid, "1")
        await follower.send_text(openid, "结算")
        confirm = await follower.send_text(openid, ADDRESS)
        assert "回复“确认”下单" in confirm.shown, confirm.shown


@contextmanager
def writers_held() -> Iterator[None]:
    """Hold the database's writers (the test's own transaction) so that handlers wait inside `create_order`."""
    if is_sqlite():
        with database.atomic("IMMEDIATE"):
            yield
        return
    with database.atomic():
        database.execute_sql(f'LOCK TABLE "{Order._meta.table_name}" IN EXCLUSIVE MODE')
        yield


@asynccontextmanager
async def in_flight(rig: Rig, follower: FollowerSimulator, signed: dict[str, tuple[dict[str, str], str]]):
    """Each buyer's first try of "确认" sent, and claimed by the serve, while the writers are held."""
    with writers_held():
        tries = [asyncio.ensure_future(follower.post(*signed[openid])) for openid in signed]
        await asyncio.to_thread(wait_until, lambda: rig.claims() == len(signed), 20, "every message to be claimed")
        yield tries


def signed_confirmations(follower: FollowerSimulator, openids: list[str]) -> dict[str, tuple[dict[str, str], str]]:
    """The query and body of each buyer's "确认": WeChat sends every try of a message with the same ones."""
    return {o: follower.signed(follower.build_xml(o, {"MsgType": "text", "Content": "确认"}), o) for o in openids}


def pay_link_of(follower: FollowerSimulator, answer: Attempt, query: dict[str, str], openid: str) -> str:
    reply, shown, error = follower.accept(answer, query, openid, True)
    assert answer.status == 200 and reply is not None and not error, (answer, error)
    assert reply["MsgType"] == "news" and shown.startswith("[图文] 订单待支付"), shown
    return reply["Articles"]["item"]["Url"]


def orders_of(openid: str) -> list[str]:
    return [o.order_no for o in Order.select(Order.order_no).where(Order.openid == openid)]


async def retries_answer_every_buyer_once(
    rig: Rig, survivor: FollowerSimulator, signed: dict[str, tuple[dict[str, str], str]]
) -> None:
    """WeChat's second and third tries go to the surviving serve: one order each, its pay link in every reply."""
    second = await asyncio.gather(*(survivor.post(*signed[openid]) for openid in signed))
    third = await asyncio.gather(*(survivor.post(*signed[openid]) for openid in signed))
    for (openid, (query, _)), two, three in zip(signed.items(), second, third, strict=True):
        assert two.elapsed_s < 5, "answered within WeChat's wait, not after a minute"
        (order_no,) = orders_of(openid)
        link = pay_link_of(survivor, two, query, openid)
        assert re.search(r"/pay/(\w+)$", link)[1] == order_no
        assert pay_link_of(survivor, three, query, openid) == link, "the third try gets the same reply"
        assert rig.world.delivered(openid) == [], "answered in the reply, not again by customer service"
    assert rig.claims() == 0


async def test_messages_claimed_by_a_killed_serve_are_handled_by_the_next_try(rig: Rig) -> None:
    first = rig.serve()
    buyers = [f"o_k{i}" for i in range(BUYERS)]
    await at_confirmation(first, buyers)
    survivor = rig.serve()
    signed = signed_confirmations(first, buyers)
    async with in_flight(rig, first, signed) as tries:
        rig.kill(0)  # claimed, waiting to write: nothing of the orders is done
    assert all(t.status is None for t in await asyncio.gather(*tries)), "the first tries died with the serve"
    assert not any(orders_of(openid) for openid in buyers)
    await retries_answer_every_buyer_once(rig, survivor, signed)


async def test_an_order_placed_before_the_kill_is_answered_with_its_pay_link(rig: Rig) -> None:
    first = rig.serve()
    buyers = [f"o_p{i}" for i in range(BUYERS)]
    await at_confirmation(first, buyers)
    survivor = rig.serve()
    signed = signed_confirmations(first, buyers)
    async with in_flight(rig, first, signed) as tries:
        # Redis takes no more writes: the orders commit once the writers go, and nothing after them happens
        rig.redis.execute_command("CLIENT", "PAUSE", 30000, "WRITE")
    try:
        await asyncio.to_thread(
            wait_until, lambda: all(orders_of(o) for o in buyers), 20, "the orders to be placed"
        )
        rig.kill(0)
    finally:
        rig.redis.execute_command("CLIENT", "UNPAUSE")
    assert all(t.status is None for t in await asyncio.gather(*tries)), "no pay link went out before the kill"
    await retries_answer_every_buyer_once(rig, survivor, signed)
