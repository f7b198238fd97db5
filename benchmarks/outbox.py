"""The outbox: 100,000 notices through the sandbox MP API with 20 ms injected latency (DESIGN §7: ≤ 60 s per
worker process, the template quota never exceeded, zero duplicates after a worker is killed mid-run).

    python -m benchmarks.outbox [--quick] [--notices N] [--database-url URL] [--redis-url URL]

This process runs the MP emulator (one World, 20 ms per call, the daily template quota set below the template
demand so it runs short) and starts `python -m bot worker` processes against it, each with a fresh database and
Redis namespace per phase:

* throughput — one worker delivers every notice: a quarter of the followers have just paid (customer-service
  messages), the rest get template messages until the quota is spent; member care then waits for tomorrow;
* kill — the same, but the worker is SIGKILLed twice mid-run (at 30 % and 65 % of the deliveries) and started
  again each time; every delivery the World saw is matched to its notice. It prints lost (a notice that did not
  arrive and is neither in doubt nor waiting for tomorrow's quota, or whose status says otherwise than what
  happened), duplicates (a notice that arrived twice) and in doubt (sends in flight at a kill, for an operator);
* baseline — a bare aiohttp client in its own process posting template sends at the same concurrency to the
  same emulator, no database or Redis: the ratio to it is what to compare across machines.

The database is a fresh SQLite file under $WXSHOP_VAR_DIR (default ./var) unless a URL is given (then its
`outbox_notice` rows are replaced); Redis is the embedded server under the same directory unless a URL is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import redis
from aiohttp import web

from benchmarks.common import print_figures, print_machine_info
from bot.process.embedded_redis import EmbeddedRedis
from bot.sandbox.mp_api import create_mp_app
from bot.sandbox.mp_state import mp_state
from bot.sandbox.world import Delivered, World
from store.core.clock import ManualClock, SystemClock
from store.core.db import close_database, open_database, write_transaction
from store.outbox.kinds import KINDS, format_time
from store.outbox.notices import (
    DELIVERED,
    IN_DOUBT,
    PENDING,
    SENDING,
    SENT,
    Notice,
    TemplateReceipt,
    enqueue_notice,
    status_counts,
)
from store.outbox.windows import CsWindows
from store.schema.steps import upgrade

APP_ID, APP_SECRET = "wxd0000000000sandbox", "sandbox-app-secret-0000000000000"
LATENCY_MS = 20
BUDGET_S = 60.0
RATE_PER_S = 20000  # far above what one process reaches: the benchmark measures the dispatcher, not the limit
CS_SHARE = 4  # every 4th follower has just paid
QUOTA_SHARE = 0.7  # the day's template quota, as a share of the notices: a little below the template demand
TEMPLATES = """
[templates.paid]
template_id = "TPL_PAID"
fields = { order_no = "character_string2", amount = "amount1", paid_at = "time3", goods = "thing4" }
[templates.shipped]
template_id = "TPL_SHIPPED"
fields = { order_no = "character_string1", carrier = "thing2", tracking_no = "character_string3" }
[templates.tier_change]
template_id = "TPL_TIER"
fields = { tier = "thing1", changed_at = "time2" }
[templates.birthday]
template_id = "TPL_BIRTHDAY"
fields = { member = "thing1", date = "time2" }
"""
# (kind, share of notices): order notices, service, member care
MIX = (("paid", 4), ("shipped", 4), ("tier_change", 1), ("birthday", 1))


def _fields(kind: str, i: int, now_text: str) -> dict[str, str]:
    order = f"N{i:07d}"
    return {
        "paid": {"order_no": order, "amount": "¥199.00", "goods": "红色连衣裙 M码", "paid_at": now_text},
        "shipped": {"order_no": order, "carrier": "顺丰速运", "tracking_no": f"SF{i:010d}", "shipped_at": now_text},
        "tier_change": {"tier": f"VIP会员{order}", "changed_at": now_text},
        "birthday": {"member": f"会员{order}", "date": now_text[:10]},
    }[kind]


_CODE = re.compile(r"N\d{7}")


def _key(delivered: Delivered) -> str:
    """The notice a delivery belongs to: its client_msg_id, or the code inside the text."""
    if delivered.kind == "template":
        return delivered.payload["client_msg_id"]
    return _CODE.findall(delivered.payload["text"]["content"])[0]


@dataclass
class Phase:
    name: str
    notices: int
    quota: int
    seconds: float = 0.0
    first_send_s: float = 0.0
    api_template_sends: int = 0
    quota_used: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    deferred: int = 0
    duplicates: int = 0
    lost: int = 0
    in_doubt: int = 0
    in_doubt_arrived: int = 0
    delivered: int = 0
    killed_at: list[int] = field(default_factory=list)

    @property
    def api_sends(self) -> int:
        """Sends that reached the API and were recorded as sent (deferred notices make no call)."""
        return self.counts.get(SENT, 0) + self.counts.get("delivered", 0)

    @property
    def per_s(self) -> float:
        return self.notices / self.seconds if self.seconds else 0.0


class Bench:
    def __init__(self, var: Path, notices: int, database_url: str | None, redis_url: str) -> None:
        self.var = var
        self.notices = notices
        self.database_url = database_url
        self.redis_url = redis_url
        self.followers = max(10, notices // 10)

    # -- one phase ---------------------------------------------------------------------------------------------

    async def phase(self, name: str, kill_at: tuple[float, ...] = ()) -> Phase:
        result = Phase(name, self.notices, int(self.notices * QUOTA_SHARE))
        db_url = self._fresh_database(name)
        prefix = f"bench{uuid.uuid4().hex[:8]}:"
        world = World(APP_ID, APP_SECRET, ManualClock(SystemClock().now()))
        seen: list[str] = []
        lock = threading.Lock()

        def on_delivery(openid: str, delivered: Delivered) -> None:
            with lock:
                seen.append(_key(delivered))

        world.subscribe_deliveries(on_delivery)
        app = create_mp_app(world, latency_ms=LATENCY_MS, template_daily_quota=result.quota)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        try:
            await asyncio.to_thread(self._prepare, db_url, prefix, world)
            env = self._worker_env(db_url, prefix, base, result.quota, name)
            log = self.var / f"bench-outbox-{name}.log"
            started = time.perf_counter()
            worker = await _spawn(env, log)
            await _until(lambda: len(seen) > 0, 60, "the first send", worker, log)
            result.first_send_s = time.perf_counter() - started
            for share in kill_at:
                await _until(lambda: len(seen) >= self.notices * share, 120, "the kill point", worker, log)  # noqa: B023
                logging.getLogger("aiohttp").setLevel(logging.CRITICAL)  # the killed worker's requests break off
                worker.send_signal(signal.SIGKILL)
                await worker.wait()
                result.killed_at.append(len(seen))
                worker = await _spawn(env, log)
            await _until_settled(worker, log, 300)
            result.seconds = time.perf_counter() - started
            worker.send_signal(signal.SIGTERM)
            await asyncio.wait_for(worker.wait(), 30)
            state = mp_state(app)
            result.api_template_sends = state.templates.sent_today(world.clock.now())
            await asyncio.to_thread(self._tally, result, seen, prefix)
        finally:
            await runner.cleanup()
            close_database()
        return result

    def _fresh_database(self, name: str) -> str:
        if self.database_url:
            return self.database_url
        path = (self.var / f"bench-outbox-{name}.db").resolve()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"

    def _prepare(self, db_url: str, prefix: str, world: World) -> None:
        open_database(db_url, self.var)
        upgrade()
        with write_transaction():
            Notice.delete().execute()
            TemplateReceipt.delete().execute()
        client = redis.Redis.from_url(self.redis_url)
        windows = CsWindows(client, lambda *parts: prefix + ":".join(parts))
        now = SystemClock().now()
        for i in range(self.followers):
            world.follow(f"o_{i}")
            if i % CS_SHARE == 0:
                world.record_interaction(f"o_{i}", "payment")
                windows.record_interaction(f"o_{i}", "payment", now)
        client.close()
        kinds = [kind for kind, share in MIX for _ in range(share)]
        text = format_time(now)
        for start in range(0, self.notices, 2000):
            with write_transaction():
                for i in range(start, min(start + 2000, self.notices)):
                    kind = kinds[i % len(kinds)]
                    enqueue_notice(f"o_{i % self.followers}", kind, _fields(kind, i, text), KINDS[kind].priority, now)
        close_database()

    def _worker_env(self, db_url: str, prefix: str, base: str, quota: int, name: str) -> dict[str, str]:
        config = self.var / f"bench-outbox-{name}.toml"
        config.write_text(TEMPLATES, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("WXSHOP_")}
        env.update(
            {
                "WXSHOP_CONFIG": str(config),
                "WXSHOP_VAR_DIR": str(self.var),
                "WXSHOP_DATABASE__URL": db_url,
                "WXSHOP_REDIS__URL": self.redis_url,
                "WXSHOP_REDIS__PREFIX": prefix,
                "WXSHOP_WECHAT__API_BASE_URL": base,
                "WXSHOP_SHOP__TEMPLATE_DAILY_QUOTA": str(quota),
                "WXSHOP_SHOP__OUTBOX_RATE_PER_SECOND": str(RATE_PER_S),
            }
        )
        return env

    def _tally(self, result: Phase, seen: list[str], prefix: str) -> None:
        open_database(self._db_url_of(result.name), self.var)
        result.counts = status_counts()
        now = SystemClock().now()
        result.deferred = Notice.select().where((Notice.status == PENDING) & (Notice.due_at > now)).count()
        per_notice = Counter(seen)
        result.delivered = len(seen)
        result.duplicates = sum(n - 1 for n in per_notice.values() if n > 1)
        columns = (Notice.id, Notice.status, Notice.due_at, Notice.fields)
        for nid, status, due_at, fields in Notice.select(*columns).tuples().iterator():
            code = _CODE.findall(fields)[0]
            arrived = per_notice[f"wxshop-{nid}"] + per_notice[code]  # as a template or a customer-service message
            if status == IN_DOUBT:
                result.in_doubt += 1
                result.in_doubt_arrived += arrived > 0
            elif status in (SENT, DELIVERED):
                result.lost += arrived == 0
            elif status == PENDING and due_at > now:  # waits for tomorrow's quota: nothing went
                result.lost += arrived > 0
            else:  # failed, dropped or stuck: nothing in this run may end so
                result.lost += 1
        client = redis.Redis.from_url(self.redis_url)
        used = client.hget(f"{prefix}outbox:tpl:{now.strftime('%Y%m%d')}", "used")
        result.quota_used = int(used or 0)
        client.close()

    def _db_url_of(self, name: str) -> str:
        return self.database_url or f"sqlite:///{(self.var / f'bench-outbox-{name}.db').resolve()}"

    # -- the bare client baseline --------------------------------------------------------------------------------

    async def baseline(self, requests: int, concurrency: int) -> float:
        world = World(APP_ID, APP_SECRET, ManualClock(SystemClock().now()))
        for i in range(self.followers):
            world.follow(f"o_{i}")
        app = create_mp_app(world, latency_ms=LATENCY_MS, template_daily_quota=requests + 1)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "benchmarks.outbox", "--bare-client", f"http://127.0.0.1:{port}",
                str(requests), str(concurrency), str(self.followers), stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, _ = await proc.communicate()
            return float(out.decode().strip().splitlines()[-1])
        finally:
            await runner.cleanup()


async def _spawn(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "worker", env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )


async def _until(condition, timeout: float, what: str, worker: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if worker.returncode is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:]
            raise SystemExit(f"outbox benchmark: waiting for {what} failed (worker {worker.returncode}):\n{tail}")
        await asyncio.sleep(0.02)


async def _until_settled(worker: asyncio.subprocess.Process, log: Path, timeout: float) -> None:
    """Every notice sent, dropped, failed, or waiting for tomorrow's quota."""

    def busy() -> int:
        now = SystemClock().now()
        return (
            Notice.select()
            .where((Notice.status == SENDING) | ((Notice.status == PENDING) & (Notice.due_at <= now)))
            .count()
        )

    deadline = time.monotonic() + timeout
    while await asyncio.to_thread(busy):
        if worker.returncode is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:]
            raise SystemExit(f"outbox benchmark: the worker did not finish (worker {worker.returncode}):\n{tail}")
        await asyncio.sleep(0.1)


async def _bare_client(base: str, requests: int, concurrency: int, followers: int) -> float:
    """Template sends as fast as one aiohttp client can post them: requests per second."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        params = {"grant_type": "client_credential", "appid": APP_ID, "secret": APP_SECRET}
        async with session.get(f"{base}/cgi-bin/token", params=params) as response:
            token = json.loads(await response.read())["access_token"]
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            body = {
                "touser": f"o_{i % followers}", "template_id": "TPL_PAID", "client_msg_id": f"bare-{i}",
                "data": {"character_string2": {"value": f"N{i:07d}"}, "amount1": {"value": "¥199.00"}},
            }  # fmt: skip
            async with (
                gate,
                session.post(
                    f"{base}/cgi-bin/message/template/send",
                    params={"access_token": token},
                    data=json.dumps(body, ensure_ascii=False).encode(),
                    headers={"Content-Type": "application/json"},
                ) as response,
            ):
                answer = json.loads(await response.read())
                if answer.get("errcode"):
                    raise RuntimeError(f"bare client: {answer}")

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        return requests / (time.perf_counter() - started)


def _print_table(phases: list[Phase], baseline: float) -> None:
    header = (
        f"{'phase':<11}{'notices':>9}{'custom':>8}{'template':>10}{'deferred':>10}{'in doubt':>9}{'dupes':>7}"
        f"{'seconds':>9}{'notices/s':>11}{'quota used':>16}"
    )
    print(header)
    print("-" * len(header))
    for p in phases:
        custom = p.counts.get(SENT, 0) + p.counts.get("delivered", 0) - p.api_template_sends
        print(
            f"{p.name:<11}{p.notices:>9}{max(custom, 0):>8}{p.api_template_sends:>10}{p.deferred:>10}{p.in_doubt:>9}"
            f"{p.duplicates:>7}{p.seconds:>9.1f}{p.per_s:>11.0f}{f'{p.quota_used}/{p.quota}':>16}"
        )
    print(f"{'baseline':<11}{'bare aiohttp client, same emulator and concurrency, no database':>60}{baseline:>11.0f}")
    for p in phases:
        kills = (
            f"{len(p.killed_at)} × kill -9 (at {', '.join(map(str, p.killed_at))} deliveries)"
            if p.killed_at
            else "no kill"
        )
        print(
            f"# {p.name}: {kills}: lost = {p.lost}, duplicates = {p.duplicates}, in doubt = {p.in_doubt}"
            f" ({p.in_doubt_arrived} of them arrived)"
        )


async def run(notices: int, database_url: str | None, redis_url: str | None, var: Path) -> int:
    embedded = None
    if not redis_url:
        embedded = EmbeddedRedis(var)
        redis_url = embedded.acquire()
    try:
        bench = Bench(var, notices, database_url, redis_url)
        throughput = await bench.phase("throughput")
        killed = await bench.phase("kill", kill_at=(0.3, 0.65))
        baseline = await bench.baseline(min(notices, 20_000), 200)
    finally:
        if embedded is not None:
            embedded.release()
    print_machine_info()
    print(f"# latency: {LATENCY_MS} ms per API call; quota {QUOTA_SHARE:.0%} of the notices; rate cap {RATE_PER_S}/s")
    _print_table([throughput, killed], baseline)
    print_figures(
        {
            "outbox_notices": notices,
            "outbox_seconds": throughput.seconds,
            "outbox_first_send_s": throughput.first_send_s,
            "outbox_notices_per_s": throughput.per_s,
            "outbox_budget_s": BUDGET_S,
            "outbox_bare_client_per_s": baseline,
            "outbox_api_sends_per_s": throughput.api_sends / throughput.seconds if throughput.seconds else 0.0,
            "outbox_ratio_to_bare_client": throughput.api_sends / throughput.seconds / baseline if baseline else 0.0,
            "outbox_sent_template": throughput.api_template_sends,
            "outbox_deferred_to_tomorrow": throughput.deferred,
            "outbox_template_quota": throughput.quota,
            "outbox_quota_used": throughput.quota_used,
            "outbox_quota_exceeded": int(max(throughput.api_template_sends, killed.api_template_sends) > killed.quota),
            "outbox_duplicates": throughput.duplicates,
            "outbox_kill_seconds": killed.seconds,
            "outbox_kill_kills": len(killed.killed_at),
            "outbox_kill_delivered_at_first_kill": killed.killed_at[0],
            "outbox_kill_duplicates": killed.duplicates,
            "outbox_kill_lost": killed.lost,
            "outbox_kill_in_doubt": killed.in_doubt,
            "outbox_kill_in_doubt_arrived": killed.in_doubt_arrived,
            "outbox_lost": throughput.lost,
        }
    )
    if notices >= 100_000:  # the budget is for 100,000 notices, worker start-up included
        print_figures({"outbox_within_budget": int(throughput.seconds * 100_000 / notices <= BUDGET_S)})
    bad = throughput.duplicates or killed.duplicates or killed.lost or throughput.lost
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--bare-client"]:
        base, requests, concurrency, followers = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
        print(f"{asyncio.run(_bare_client(base, requests, concurrency, followers)):.1f}")
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.outbox", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 notices, a few seconds (smoke test)")
    parser.add_argument("--notices", type=int, help="notices per phase (default 100,000)")
    parser.add_argument("--database-url", help="use this database (its outbox is emptied) instead of SQLite files")
    parser.add_argument("--redis-url", help="use this Redis instead of the embedded one")
    args = parser.parse_args(argv)
    notices = args.notices or (2000 if args.quick else 100_000)
    var = Path(os.environ.get("WXSHOP_VAR_DIR", "var")).resolve()
    var.mkdir(parents=True, exist_ok=True)
    return asyncio.run(run(notices, args.database_url, args.redis_url, var))


if __name__ == "__main__":
    sys.exit(main())
