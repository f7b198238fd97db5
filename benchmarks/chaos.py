"""A chaos run anyone can repeat: shoppers follow, browse, check out and pay while processes die and the servers
behind them go away, and at the end every message, order, payment and notice is accounted for.

    python -m benchmarks.chaos [--quick] [--database-url URL] [--shoppers N] [--seconds S]
    make chaos

Everything runs on loopback, started by this process and stopped at the end:

* a redis-server of its own (append-only file on, so a restart is an outage, not a wipe);
* the database: a fresh SQLite file, or, with `--database-url` (a PostgreSQL server), a fresh database created on
  that server for the run and dropped after it, reached through a relay this process can cut;
* the sandbox (WeChat's MP API and Pay, paying notices in the background as WeChat does) in this process;
* two `wxshop serve` behind a front door (a relay that sends each connection to a serve that accepts it, as a load
  balancer does) and two `wxshop worker`, all on one clock.

Shoppers follow, search, pick a spec, add to the cart, check out with an address, confirm and pay through the pay
page, over and over. Each message is sent as WeChat sends it: signed once, tried up to three times, each try cut
off after 5 s. Meanwhile the run kill -9s a serve (started again), kill -9s a worker twice (started again),
restarts Redis and, on PostgreSQL, makes the database unreachable (every connection cut, new ones refused) for
10 s (3 s with `--quick`). Then traffic stops, the shop settles, and the run prints:

* messages: sent, answered, lost (no try answered), degraded (a polite "please retry" reply), longest reply;
* orders: placed, duplicated (more orders than confirmations), without their pay link (placed, never shown);
* payments: paid at WeChat, recorded, lost, duplicated;
* notices: the paid notices due, delivered once, lost, duplicated, in doubt (for an operator).

It exits 1 when anything is lost or duplicated, a reply outside the database gap took longer than 5 s, or a
message went unanswered outside it. `--quick` (about 40 s) is what the test suite runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yarl
from aiohttp import web

from benchmarks.common import print_machine_info
from bot.process import config as config_module
from bot.process.config import Config
from bot.sandbox.follower import Account, Attempt, FollowerSimulator
from bot.sandbox.ports import free_port
from bot.sandbox.redis_server import RedisServer
from bot.sandbox.server import build_sandbox
from store.core.clock import CLOCK_ENV, clock_spec, process_clock

ROOT = Path(__file__).resolve().parents[1]
PRODUCT, SPEC, SKU_CODE = "看看法式碎花雪纺连衣裙", "红色 M", "P001-02"
ADDRESS = "张三 13812345678 广东省深圳市南山区科技园路1号"
DEADLINE_S = 5.0  # WeChat waits this long for a reply, then tries again
TRIES = 3
PAY_LINK = re.compile(r"/pay/(\w+)$")
DEGRADED = ("稍后再试", "开小差")


# -- relays ----------------------------------------------------------------------------------------------------
class Relay:
    """A loopback TCP relay to the first of `backends` that accepts. `cut(seconds)` closes every relayed
    connection and refuses new ones for a while: the server behind it unreachable, as a network fault makes it."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.port = free_port()
        self._server: asyncio.AbstractServer | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._turn = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def cut(self, seconds: float) -> None:
        await self.stop()
        await asyncio.sleep(seconds)
        await self.start()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._turn += 1
        order = self.backends[self._turn % len(self.backends) :] + self.backends[: self._turn % len(self.backends)]
        for port in order:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        else:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            for end in (writer, up_writer):
                self._open.discard(end)
                end.transport.abort()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()


# -- the run's processes ---------------------------------------------------------------------------------------
@dataclass
class Child:
    """One `wxshop serve` or `wxshop worker`, started again after a kill with the same arguments."""

    role: str
    env: dict[str, str]
    log: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(self.env)
        if self.port:
            env["WXSHOP_SERVER__PORT"] = str(self.port)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", self.role], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # a process group of its own, as on a host of its own
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


async def _healthy(port: int, session: aiohttp.ClientSession, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(f"http://127.0.0.1:{port}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"serve on port {port} not healthy within {timeout:g} s")


# -- what happened ---------------------------------------------------------------------------------------------
@dataclass
class Tally:
    sent: int = 0
    answered: int = 0
    lost_in_gap: int = 0
    lost: list[str] = field(default_factory=list)
    degraded: int = 0
    longest_s: float = 0.0
    longest_in_gap_s: float = 0.0
    confirmations: Counter[str] = field(default_factory=Counter)
    links: dict[str, str] = field(default_factory=dict)  # order_no → openid, as shown to the shopper
    paid_at_wechat: dict[str, str] = field(default_factory=dict)
    pay_page_failures: int = 0
    gaps: list[tuple[float, float]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def in_gap(self, started: float, ended: float) -> bool:
        return any(started < end + 1 and ended > start - 1 for start, end in self.gaps)


class ChaosRun:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.clock = process_clock()
        self.tally = Tally()
        self.stopping = asyncio.Event()
        self.redis = RedisServer(workdir, append_only=True)
        self.serves: list[Child] = []
        self.workers: list[Child] = []
        self.pg_relay: Relay | None = None
        self.front: Relay | None = None
        self.admin_db_url = ""
        self.db_name = ""
        self.public_url = self.sandbox_url = ""
        self._started = 0.0

    # -- set-up ------------------------------------------------------------------------------------------------
    def _database_url(self) -> str:
        if not self.args.database_url:
            return f"sqlite:///{self.workdir / 'chaos.db'}"
        import psycopg2  # only with a PostgreSQL server given

        url = urllib.parse.urlparse(self.args.database_url)
        self.admin_db_url = self.args.database_url
        self.db_name = f"wxshop_chaos_{os.getpid()}"
        with contextlib.closing(psycopg2.connect(self.admin_db_url)) as conn:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.db_name}"')
        self.pg_relay = Relay([url.port or 5432])
        netloc = f"{url.username or 'postgres'}@127.0.0.1:{self.pg_relay.port}"
        return urllib.parse.urlunparse(url._replace(netloc=netloc, path=f"/{self.db_name}"))

    def _drop_database(self) -> None:
        if not self.db_name:
            return
        import psycopg2

        with contextlib.closing(psycopg2.connect(self.admin_db_url)) as conn:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    def _env(self, db_url: str, sandbox_url: str, public_url: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WXSHOP_")}
        env.update(
            {
                "WXSHOP_VAR_DIR": str(self.workdir),
                "WXSHOP_DATABASE__URL": db_url,
                "WXSHOP_REDIS__URL": self.redis.url,
                "WXSHOP_WECHAT__API_BASE_URL": sandbox_url,
                "WXSHOP_PAY__API_BASE_URL": sandbox_url,
                "WXSHOP_SERVER__PUBLIC_URL": public_url,
                "WXSHOP_SERVER__HOST": "127.0.0.1",
                CLOCK_ENV: clock_spec(self.clock),
            }
        )
        return env

    def _prepare(self, env: dict[str, str], db_url: str) -> None:
        """Schema and the demo catalog, with stock enough for the whole run, before any serve starts."""
        subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        script = (
            "from bot.sandbox.demo_seed import seed_demo_shop\n"
            "from store.core.db import open_database, close_database\n"
            "from store.catalog.products import Sku\n"
            "from store.core.clock import process_clock\n"
            "from pathlib import Path\n"
            f"open_database({db_url!r}, Path({str(self.workdir)!r}))\n"
            "seed_demo_shop(process_clock().now())\n"
            f"Sku.update(stock=10_000_000).where(Sku.code == {SKU_CODE!r}).execute()\n"
            "close_database()\n"
        )
        subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, check=True)

    # -- a shopper ---------------------------------------------------------------------------------------------
    async def say(self, follower: FollowerSimulator, openid: str, fields: dict[str, object]) -> str | None:
        """One message as WeChat sends it; what the shopper saw, or None when no try was answered."""
        kind = "subscribe" if fields.get("Event") == "subscribe" else "message"
        follower.world.record_interaction(openid, kind)  # type: ignore[union-attr]
        xml = follower.build_xml(openid, fields)
        query, body = follower.signed(xml, openid)
        self.tally.sent += 1
        started = time.monotonic()
        for _ in range(TRIES):
            attempt: Attempt = await follower.post(query, body)
            if attempt.status is not None:
                reply, shown, error = follower.accept(attempt, query, openid, fields.get("MsgType") != "event")
                if not error:
                    self._answered(attempt, shown, started)
                    if reply is not None and reply.get("MsgType") == "news":
                        return f"{shown}\n{reply['Articles']['item'].get('Url', '')}"
                    return shown
            await asyncio.sleep(0.2 if attempt.elapsed_s < 1 else 0)
        if self.tally.in_gap(started, time.monotonic()):
            self.tally.lost_in_gap += 1
        else:
            self.tally.lost.append(f"{openid}: {fields.get('Content') or fields.get('Event')}")
        return None

    def _answered(self, attempt: Attempt, shown: str, started: float) -> None:
        self.tally.answered += 1
        degraded = any(word in shown for word in DEGRADED)
        self.tally.degraded += degraded
        if self.tally.in_gap(started, time.monotonic()):
            self.tally.longest_in_gap_s = max(self.tally.longest_in_gap_s, attempt.elapsed_s)
        else:
            self.tally.longest_s = max(self.tally.longest_s, attempt.elapsed_s)

    async def shopper(self, follower: FollowerSimulator, session: aiohttp.ClientSession, openid: str) -> None:
        follower.world.follow(openid)  # type: ignore[union-attr]
        await self.say(follower, openid, {"MsgType": "event", "Event": "subscribe", "EventKey": ""})
        rng = random.Random(openid)
        while not self.stopping.is_set():
            if rng.random() < 0.2:
                await self.text(follower, openid, rng.choice(("你好", "帮助", "有什么优惠", "谢谢")))
                continue
            order_no = await self.checkout(follower, openid)
            if order_no:
                await self.pay(session, order_no, openid)

    async def text(self, follower: FollowerSimulator, openid: str, content: str) -> str:
        """Send `content`; told to try again later (a polite degraded reply), the shopper does, up to 3 times."""
        for _ in range(3):
            shown = await self.say(follower, openid, {"MsgType": "text", "Content": content}) or ""
            if self.args.verbose:
                print(openid, content, "->", shown[:160].replace("\n", " | "), flush=True)
            if not any(word in shown for word in DEGRADED):
                break
            await asyncio.sleep(1.0)
        return shown

    async def checkout(self, follower: FollowerSimulator, openid: str) -> str | None:
        """Search → card → spec → quantity → 结算 → address → 确认; the order number shown, or None when a
        step did not get the answer it needs (the shopper leaves the flow and starts again)."""
        steps = [(PRODUCT, "1."), ("1", "/p/"), (SPEC, "购买数量"), ("1", "购物车"), ("结算", "")]
        for content, expect in steps:
            shown = await self.text(follower, openid, content)
            if expect and expect not in shown:
                await self.text(follower, openid, "取消")
                return None
        # 结算 asks for an address (the first time), offers coupons when there are any, then asks to confirm
        for _ in range(4):
            if "收货信息" in shown:
                shown = await self.text(follower, openid, ADDRESS)
            elif "上次的地址" in shown:
                shown = await self.text(follower, openid, "是")
            elif "优惠券" in shown:
                shown = await self.text(follower, openid, "1")
            else:
                break
        if "确认" not in shown:
            await self.text(follower, openid, "取消")
            return None
        self.tally.confirmations[openid] += 1
        link = await self.text(follower, openid, "确认")
        found = PAY_LINK.search(link)
        if found is None:
            return None
        self.tally.links[found[1]] = openid
        return found[1]

    async def pay(self, session: aiohttp.ClientSession, order_no: str, openid: str) -> None:
        """The pay link → OAuth at the sandbox → the pay page → 确认支付; tried again for a while on errors."""
        for _ in range(10):
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, KeyError, ValueError):
                if await self._pay_once(session, order_no, openid):
                    self.tally.paid_at_wechat[order_no] = openid
                    return
            await asyncio.sleep(1)
        self.tally.pay_page_failures += 1

    async def _pay_once(self, session: aiohttp.ClientSession, order_no: str, openid: str) -> bool:
        timeout = aiohttp.ClientTimeout(total=DEADLINE_S)
        first = await session.get(f"{self.public_url}/pay/{order_no}", allow_redirects=False, timeout=timeout)
        if first.status != 302:
            return False
        authorize = yarl.URL(first.headers["Location"].removesuffix("#wechat_redirect"))
        back = await session.get(authorize.update_query(sandbox_openid=openid), allow_redirects=False, timeout=timeout)
        page = await session.get(back.headers["Location"], allow_redirects=False, timeout=timeout)
        text = await page.text()
        found = re.search(r'data-params="([^"]*)"', text)
        if page.status != 200 or found is None:
            return False
        params = json.loads(html.unescape(found.group(1)))
        confirm = await session.post(f"{self.sandbox_url}/sandbox/pay/confirm",
                                     json={**params, "openid": openid, "action": "pay"}, timeout=timeout)  # fmt: skip
        return confirm.status == 200

    # -- faults ------------------------------------------------------------------------------------------------
    async def faults(self, seconds: float, session: aiohttp.ClientSession) -> None:
        gap_s = 3.0 if self.args.quick else 10.0
        plan: list[tuple[float, str, Callable[[], Awaitable[None]]]] = [
            (0.15, "kill -9 serve 1", lambda: self._restart(self.serves[0], session)),
            (0.30, "kill -9 worker 1", lambda: self._restart(self.workers[0], session)),
            (0.45, "restart Redis", self._restart_redis),
            (0.60, "kill -9 worker 2", lambda: self._restart(self.workers[1], session)),
        ]
        if self.pg_relay is not None:
            plan.append((0.72, f"PostgreSQL unreachable {gap_s:g} s", lambda: self._database_gap(gap_s)))
        started = time.monotonic()
        for at, what, act in plan:
            await asyncio.sleep(max(0.0, started + at * seconds - time.monotonic()))
            self.tally.events.append(f"{time.monotonic() - started:5.1f} s  {what}")
            await act()

    async def _restart(self, child: Child, session: aiohttp.ClientSession) -> None:
        await asyncio.to_thread(child.kill)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(child.start)
        if child.port:
            await _healthy(child.port, session)

    async def _restart_redis(self) -> None:
        await asyncio.to_thread(self.redis.stop)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(self.redis.start)

    async def _database_gap(self, seconds: float) -> None:
        assert self.pg_relay is not None
        began = time.monotonic()
        self.tally.gaps.append((began, began + seconds))
        await self.pg_relay.cut(seconds)

    # -- the run -----------------------------------------------------------------------------------------------
    async def run(self) -> dict[str, object]:
        db_url = self._database_url()
        self.redis.start()
        if self.pg_relay is not None:
            await self.pg_relay.start()
        sandbox_port, front_ports = free_port(), [free_port(), free_port()]
        self.front = Relay(front_ports)
        await self.front.start()
        self.public_url = f"http://127.0.0.1:{self.front.port}"
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        env = self._env(db_url, self.sandbox_url, self.public_url)
        config: Config = config_module.load(env=env)
        await asyncio.to_thread(self._prepare, env, db_url)
        sandbox = build_sandbox(config, self.clock, demo=True)
        runner = web.AppRunner(sandbox.app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", sandbox_port).start()
        logs = self.workdir / "logs"
        logs.mkdir()
        self.serves = [Child("serve", env, logs / f"serve{i}.log", port) for i, port in enumerate(front_ports, 1)]
        self.workers = [Child("worker", env, logs / f"worker{i}.log") for i in (1, 2)]
        try:
            async with aiohttp.ClientSession() as session:
                for child in (*self.serves, *self.workers):
                    child.start()
                for serve in self.serves:
                    await _healthy(serve.port, session)
                wechat = config.wechat
                account = Account(wechat.token, wechat.app_id, wechat.original_id)
                callback = f"{self.public_url}{config.server.wechat_path}"
                follower = FollowerSimulator(callback, account, session, self.clock, world=sandbox.world)
                seconds = 30.0 if self.args.quick else self.args.seconds
                self._started = time.monotonic()
                shoppers = [
                    asyncio.create_task(self.shopper(follower, session, f"o_chaos{i:03d}"))
                    for i in range(self.args.shoppers)
                ]
                await self.faults(seconds, session)
                await asyncio.sleep(max(0.0, seconds - (time.monotonic() - self._started)))
                self.stopping.set()
                await asyncio.gather(*shoppers)
                settled_s = await self.settle()
                return self.account_for(sandbox, settled_s)
        finally:
            for child in (*self.serves, *self.workers):
                child.stop()
            await runner.cleanup()
            await self.front.stop()
            if self.pg_relay is not None:
                await self.pg_relay.stop()
            self.redis.stop()
            self._drop_database()

    async def settle(self) -> float:
        """Wait (bounded) until every payment WeChat took is recorded and no notice is waiting to go out."""
        began = time.monotonic()
        limit = 120.0  # a batch claimed when a worker died waits for its lease to lapse
        while time.monotonic() - began < limit:
            figures = await asyncio.to_thread(self._outstanding)
            if figures == (0, 0):
                break
            await asyncio.sleep(0.5)
        return time.monotonic() - began

    def _outstanding(self) -> tuple[int, int]:
        from store.core.db import close_database, open_database
        from store.orders.checkout import Order
        from store.outbox.notices import PENDING, SENDING, Notice

        open_database(self._db_url_direct(), self.workdir)
        try:
            paid = set(self.tally.paid_at_wechat)
            recorded = {o for (o,) in Order.select(Order.order_no).where(Order.paid_at.is_null(False)).tuples()}
            waiting = Notice.select().where(Notice.kind == "paid", Notice.status.in_((PENDING, SENDING))).count()
            return len(paid - recorded), waiting
        finally:
            close_database()

    def _db_url_direct(self) -> str:
        """The run's database without the relay (the tally reads it whatever the relay's state)."""
        if not self.db_name:
            return f"sqlite:///{self.workdir / 'chaos.db'}"
        url = urllib.parse.urlparse(self.admin_db_url)
        return urllib.parse.urlunparse(url._replace(path=f"/{self.db_name}"))

    def account_for(self, sandbox: Any, settled_s: float) -> dict[str, object]:
        from store.core.db import close_database, open_database
        from store.orders.checkout import Order
        from store.orders.payments import Payment
        from store.outbox.notices import IN_DOUBT, PENDING, SENDING, Notice

        open_database(self._db_url_direct(), self.workdir)
        try:
            orders = list(Order.select(Order.order_no, Order.openid, Order.paid_at).tuples())
            payments = Counter(o for (o,) in Payment.select(Payment.order_no).tuples())
            notices = list(Notice.select(Notice.openid, Notice.fields, Notice.status).where(Notice.kind == "paid")
                           .tuples())  # fmt: skip
        finally:
            close_database()
        t = self.tally
        per_openid = Counter(openid for _, openid, _ in orders)
        duplicated_orders = sum(max(0, n - t.confirmations[o]) for o, n in per_openid.items())
        unseen = [no for no, _, _ in orders if no not in t.links]
        recorded = {no for no, _, paid_at in orders if paid_at is not None}
        lost_payments = sorted(set(t.paid_at_wechat) - recorded)
        delivered: Counter[str] = Counter()
        for no, openid, paid_at in orders:
            if paid_at is None:
                continue
            for d in sandbox.world.delivered(openid):
                text = json.dumps(d.payload, ensure_ascii=False)
                if no in text and ("支付成功" in text or d.kind == "template"):
                    delivered[no] += 1
        in_doubt = {json.loads(f)["order_no"] for _, f, s in notices if s == IN_DOUBT}
        queued = {json.loads(f)["order_no"] for _, f, s in notices if s in (PENDING, SENDING)}
        lost_notices = sorted(no for no in recorded if delivered[no] == 0 and no not in in_doubt | queued)
        return {
            "database": "PostgreSQL" if self.db_name else "SQLite",
            "shoppers": self.args.shoppers,
            "faults": t.events,
            "messages sent": t.sent,
            "messages answered": t.answered,
            "messages lost": len(t.lost),
            "messages lost in the database gap": t.lost_in_gap,
            "replies degraded (polite retry)": t.degraded,
            "longest reply s": round(t.longest_s, 3),
            "longest reply in the database gap s": round(t.longest_in_gap_s, 3),
            "orders": len(orders),
            "orders duplicated": duplicated_orders,
            "orders without their pay link": len(unseen),
            "payments at WeChat": len(t.paid_at_wechat),
            "payments recorded": len(recorded),
            "payments lost": len(lost_payments),
            "payments duplicated": sum(n - 1 for n in payments.values() if n > 1),
            "pay page gave up": t.pay_page_failures,
            "paid notices delivered": sum(1 for no in recorded if delivered[no] >= 1),
            "paid notices lost": len(lost_notices),
            "paid notices duplicated": sum(n - 1 for n in delivered.values() if n > 1),
            "paid notices in doubt": len(in_doubt),
            "paid notices still queued at the end": len(queued),
            "settled in s": round(settled_s, 1),
            "_lost": t.lost[:10] + lost_payments[:10] + lost_notices[:10] + unseen[:10],
        }


def verdict(figures: dict[str, object]) -> list[str]:
    """What makes the run fail: anything lost or duplicated, or a slow reply outside the database gap."""
    problems = [k for k in figures if (" lost" in k or "duplicated" in k or "without" in k) and "gap" not in k
                and figures[k]]  # fmt: skip
    if float(figures["longest reply s"]) > DEADLINE_S:  # type: ignore[arg-type]
        problems.append("longest reply s")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 40 s: the run the test suite makes")
    parser.add_argument("--database-url", default=os.environ.get("WXSHOP_CHAOS_DATABASE_URL", ""),
                        help="a PostgreSQL server to create the run's database on (default: SQLite)")  # fmt: skip
    parser.add_argument("--shoppers", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=90.0, help="traffic time of the full run")
    parser.add_argument("--verbose", action="store_true", help="print every message and what the shopper saw")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs) afterwards")
    args = parser.parse_args(argv)
    if args.quick:
        args.shoppers = min(args.shoppers, 8)
    print_machine_info()
    workdir = Path(tempfile.mkdtemp(prefix="wxshop-chaos-"))
    run = ChaosRun(args, workdir)
    try:
        figures = asyncio.run(run.run())
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    examples = figures.pop("_lost")
    for event in figures.pop("faults"):  # type: ignore[attr-defined]
        print(f"# fault at {event}")
    for name, value in figures.items():
        print(f"{name}: {value}")
    sys.stdout.flush()
    problems = verdict(figures)
    if problems:
        print(f"FAILED: {', '.join(problems)}; e.g. {examples}", flush=True)
        if args.keep:
            print(f"logs: {workdir / 'logs'}")
        return 1
    print("chaos: nothing lost, nothing duplicated", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
