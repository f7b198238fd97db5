"""One campaign to 100,000 followers through the real worker, beside the day's other notices (issue 18: the whole
segment reached in minutes, the daily template quota kept, nothing sent twice).

    python -m benchmarks.campaign [--quick] [--followers N] [--latency-ms 20] [--database-url URL] [--redis-url URL]

This process fills a fresh database set-based (one INSERT … SELECT of N subscribed followers, and N/20 who left;
the nightly profiles rebuilt over them; the segment 全员), runs the MP emulator (one World that every follower
follows, `--latency-ms` per call, WeChat's template quota of N a day), gives every tenth follower a
customer-service window (they wrote to us) and queues the day's order notices for every tenth follower (paid,
transactional). Then it creates the campaign and starts it (`start_campaign`: the INSERT … SELECT that queues a
notice per member, timed), starts one `python -m bot worker` against the emulator with the shop's template quota
set to N, and waits until nothing due is left. It prints:

* the time to queue and the time to send (worker start to the last notice settled), messages per second;
* the channel split of the campaign (customer-service inside a window, template outside) from its results;
* the template quota: used against the cap, and the campaign's member-care share (90 %) — the campaign's
  templates beyond its share wait for tomorrow, the order notices all go;
* duplicates (a follower reached twice by the campaign) and lost (a notice on record as sent that did not
  arrive, or one that arrived but is not on record), both counted against what the emulator delivered;
* baseline: the bare aiohttp client of `benchmarks.outbox` posting template sends to the same emulator.

SQLite is a fresh file under $WXSHOP_VAR_DIR (default ./var); a PostgreSQL URL gets a fresh schema, dropped
afterwards. Redis is the embedded server under the same directory unless a URL is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import redis
from aiohttp import web

from benchmarks.common import print_figures, print_machine_info
from benchmarks.databases import fresh_sqlite_url, postgres_schema
from benchmarks.sweeps import Dialect
from bot.process.embedded_redis import EmbeddedRedis
from bot.sandbox.mp_api import create_mp_app
from bot.sandbox.mp_state import mp_state
from bot.sandbox.world import Delivered, World
from scheduler.outbox_limits import QuotaShares
from store.core.clock import SHANGHAI, ManualClock, SystemClock
from store.core.db import close_database, database, is_sqlite, open_database, write_transaction
from store.outbox.kinds import KINDS, format_time
from store.outbox.notices import DELIVERED, IN_DOUBT, PENDING, SENDING, SENT, Notice, enqueue_notice, status_counts
from store.outbox.windows import CsWindows
from store.profiles.campaign_results import campaign_result
from store.profiles.campaigns import create_campaign, start_campaign
from store.profiles.compute import rebuild_profiles
from store.profiles.models import Campaign
from store.profiles.rules import ProfileRules
from store.profiles.segments import parse_rule, save_segment
from store.schema.steps import upgrade

APP_ID, APP_SECRET = "wxd0000000000sandbox", "sandbox-app-secret-0000000000000"
NAME, SEGMENT = "双十二预热", "全员"
SUBJECT, DETAIL = "双十二预热开启", "回复上新查看本周新款"
RATE_PER_S = 20000  # far above what one worker reaches: the benchmark measures the campaign path, not the limit
WINDOW_EVERY = 10  # every tenth follower wrote to us: a customer-service window
ORDER_EVERY = 10  # every tenth follower has an order notice queued today
TEMPLATES = """
[templates.campaign]
template_id = "TPL_CAMPAIGN"
fields = { subject = "thing1", detail = "thing2", sent_at = "time3" }
[templates.paid]
template_id = "TPL_PAID"
fields = { order_no = "character_string2", amount = "amount1", paid_at = "time3", goods = "thing4" }
"""


@dataclass
class Run:
    followers: int
    latency_ms: int
    quota: int
    seed_s: float = 0.0
    profiles_s: float = 0.0
    queue_s: float = 0.0
    first_send_s: float = 0.0
    send_s: float = 0.0
    queued: int = 0
    sent_custom: int = 0
    sent_template: int = 0
    deferred: int = 0
    in_doubt: int = 0
    duplicates: int = 0
    lost: int = 0
    order_notices: int = 0
    order_sent: int = 0
    quota_used: int = 0
    api_template_sends: int = 0
    result_s: float = 0.0
    other: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        return self.sent_custom + self.sent_template

    @property
    def per_s(self) -> float:
        """Messages that went out (the campaign's and the order notices) per second of sending."""
        return (self.sent + self.order_sent) / self.send_s if self.send_s else 0.0


def _wall(when: datetime) -> str:
    return when.astimezone(SHANGHAI).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S")


def _openid(n: int) -> str:
    return f"o{n}"


def seed(run: Run, now: datetime) -> None:
    """Followers set-based (`'o' || n`, n = 1..N subscribed, then N/20 who left), their profiles, the segment."""
    sql = Dialect(is_sqlite())
    at = _wall(now)
    left = max(1, run.followers // 20)
    started = time.perf_counter()
    following = f"'o' || n, {sql.true}, '{at}', '{at}', '{at}'"
    gone = f"'left' || n, {'0' if sql.sqlite else 'FALSE'}, '{at}', '{at}', '{at}'"
    columns = "openid, subscribed, first_followed_at, {}, created_at"
    with write_transaction():
        database.execute_sql(sql.insert("follower", columns.format("followed_at"), following, run.followers))
        database.execute_sql(sql.insert("follower", columns.format("unfollowed_at"), gone, left))
    run.seed_s = time.perf_counter() - started
    started = time.perf_counter()
    rebuild_profiles(ProfileRules(), now)
    save_segment(SEGMENT, parse_rule({}), now)
    run.profiles_s = time.perf_counter() - started


def open_windows_and_orders(run: Run, world: World, redis_url: str, prefix: str, now: datetime) -> None:
    """Every follower follows in the emulator; every tenth has written to us; every tenth has a paid notice."""
    client = redis.Redis.from_url(redis_url)
    windows = CsWindows(client, lambda *parts: prefix + ":".join(parts))
    for n in range(1, run.followers + 1):
        world.follow(_openid(n))
        if n % WINDOW_EVERY == 3:
            world.record_interaction(_openid(n), "message")
            windows.record_interaction(_openid(n), "message", now)
    client.close()
    text = format_time(now)
    ordered = range(1, run.followers + 1, ORDER_EVERY)
    for start in range(0, len(ordered), 2000):
        with write_transaction():
            for n in ordered[start : start + 2000]:
                fields = {"order_no": f"N{n:07d}", "amount": "¥199.00", "goods": "红色连衣裙 M码", "paid_at": text}
                enqueue_notice(_openid(n), "paid", fields, KINDS["paid"].priority, now)
    run.order_notices = len(ordered)


def queue_campaign(run: Run, now: datetime) -> None:
    create_campaign(NAME, SEGMENT, {"subject": SUBJECT, "detail": DETAIL}, now)
    started = time.perf_counter()
    run.queued = start_campaign(NAME, now)
    run.queue_s = time.perf_counter() - started


def _worker_env(var: Path, db_url: str, redis_url: str, prefix: str, base: str, quota: int) -> dict[str, str]:
    config = var / "bench-campaign.toml"
    config.write_text(TEMPLATES, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXSHOP_")}
    env.update(
        {
            "WXSHOP_CONFIG": str(config),
            "WXSHOP_VAR_DIR": str(var),
            "WXSHOP_DATABASE__URL": db_url,
            "WXSHOP_REDIS__URL": redis_url,
            "WXSHOP_REDIS__PREFIX": prefix,
            "WXSHOP_WECHAT__API_BASE_URL": base,
            "WXSHOP_SHOP__TEMPLATE_DAILY_QUOTA": str(quota),
            "WXSHOP_SHOP__OUTBOX_RATE_PER_SECOND": str(RATE_PER_S),
        }
    )
    return env


def _busy() -> bool:
    """Whether a notice due now is not settled (pending, or held by a batch): one index probe, not a count, since
    it runs in the emulator's process while the worker sends."""
    now = SystemClock().now()
    due = (Notice.status == SENDING) | ((Notice.status == PENDING) & (Notice.due_at <= now))
    return Notice.select().where(due).exists()


async def send(run: Run, db_url: str, redis_url: str, var: Path) -> None:
    """The emulator in this process, one worker against it; then the tally against what the emulator delivered."""
    prefix = f"benchc{uuid.uuid4().hex[:8]}:"
    now = SystemClock().now()
    world = World(APP_ID, APP_SECRET, ManualClock(now))
    campaign_hits: Counter[str] = Counter()
    order_hits: Counter[str] = Counter()
    lock = threading.Lock()

    def on_delivery(openid: str, delivered: Delivered) -> None:
        payload = delivered.payload
        is_template = delivered.kind == "template"
        ours = payload.get("template_id") == "TPL_CAMPAIGN" if is_template else SUBJECT in payload["text"]["content"]
        with lock:
            (campaign_hits if ours else order_hits)[openid] += 1

    world.subscribe_deliveries(on_delivery)
    app = create_mp_app(world, latency_ms=run.latency_ms, template_daily_quota=run.quota)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    log = var / "bench-campaign-worker.log"
    worker = None
    try:
        await asyncio.to_thread(open_windows_and_orders, run, world, redis_url, prefix, now)
        await asyncio.to_thread(queue_campaign, run, now)
        env = _worker_env(var, db_url, redis_url, prefix, base, run.quota)
        started = time.perf_counter()
        with log.open("ab") as out:
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "worker", env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
            )
        deadline = time.monotonic() + 600
        while not (campaign_hits or order_hits):
            await _check(worker, deadline, log, "the first send")
            await asyncio.sleep(0.01)
        run.first_send_s = time.perf_counter() - started
        while await asyncio.to_thread(_busy):
            await _check(worker, deadline, log, "the campaign to be sent")
            await asyncio.sleep(0.2)
        run.send_s = time.perf_counter() - started
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), 30)
        run.api_template_sends = mp_state(app).templates.sent_today(world.clock.now())
        await asyncio.to_thread(tally, run, campaign_hits, order_hits, redis_url, prefix)
    finally:
        if worker is not None and worker.returncode is None:
            worker.kill()
            await worker.wait()
        await runner.cleanup()


async def _check(worker: asyncio.subprocess.Process, deadline: float, log: Path, what: str) -> None:
    if worker.returncode is not None or time.monotonic() > deadline:
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"campaign benchmark: waiting for {what} failed (worker {worker.returncode}):\n{tail}")


def tally(run: Run, campaign_hits: Counter[str], order_hits: Counter[str], redis_url: str, prefix: str) -> None:
    started = time.perf_counter()
    result = campaign_result(NAME)
    run.result_s = time.perf_counter() - started
    run.sent_custom, run.sent_template = result.by_channel["custom"], result.by_channel["template"]
    run.duplicates = sum(n - 1 for n in campaign_hits.values() if n > 1) + sum(
        n - 1 for n in order_hits.values() if n > 1
    )
    cid = Campaign.get(Campaign.name == NAME).id
    now = SystemClock().now()
    columns = (Notice.openid, Notice.status, Notice.due_at, Notice.dedup_key)
    for openid, status, due_at, key in Notice.select(*columns).tuples().iterator():
        hits = campaign_hits if (key or "").startswith(f"campaign:{cid}:") else order_hits
        arrived = hits[openid] > 0
        if status in (SENT, DELIVERED):
            run.lost += not arrived
            run.order_sent += hits is order_hits
        elif status == PENDING and due_at > now:  # the campaign's share is spent: tomorrow
            run.deferred += 1
            run.lost += arrived
        elif status == IN_DOUBT:
            run.in_doubt += 1
        else:
            run.other[status] += 1
    run.lost += sum(run.other.values())  # failed or dropped: nothing in this run may end so
    client = redis.Redis.from_url(redis_url)
    used = client.hget(f"{prefix}outbox:tpl:{now.astimezone(SHANGHAI).strftime('%Y%m%d')}", "used")
    client.close()
    run.quota_used = int(used or 0)


async def baseline(followers: int, latency_ms: int, requests: int) -> float:
    """The outbox benchmark's bare aiohttp client against the same emulator: template sends per second."""
    world = World(APP_ID, APP_SECRET, ManualClock(SystemClock().now()))
    for n in range(min(followers, requests)):
        world.follow(f"o_{n}")
    app = create_mp_app(world, latency_ms=latency_ms, template_daily_quota=requests + 1)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.outbox", "--bare-client", f"http://127.0.0.1:{port}", str(requests),
            "200", str(min(followers, requests)), stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate()
        return float(out.decode().strip().splitlines()[-1])
    finally:
        await runner.cleanup()


def _print(run: Run, bare: float, database_kind: str, counts: dict[str, int]) -> None:
    print_machine_info()
    ceiling = QuotaShares().ceiling(KINDS["campaign"].priority, run.quota)
    print(f"# database: {database_kind}; latency {run.latency_ms} ms per API call; rate cap {RATE_PER_S}/s")
    print(
        f"# {run.followers} followers in the segment ({run.followers // 20} more who left), "
        f"{run.order_notices} order notices queued beside the campaign"
    )
    print(
        f"# queued {run.queued} in {run.queue_s:.2f} s; sent {run.sent} "
        f"({run.sent_custom} customer-service, {run.sent_template} template) and {run.order_sent} order notices "
        f"in {run.send_s:.1f} s: {run.per_s:.0f} messages/s (bare client {bare:.0f}/s)"
    )
    print(
        f"# template quota: {run.quota_used} of {run.quota} used (WeChat counted {run.api_template_sends}); the "
        f"campaign's share {ceiling}; {run.deferred} campaign notices wait for tomorrow"
    )
    print(f"# duplicates = {run.duplicates}, lost = {run.lost}, in doubt = {run.in_doubt}, other = {dict(run.other)}")
    print(f"# outbox statuses: {counts}")
    print_figures(
        {
            "campaign_followers": run.followers,
            "campaign_seed_s": run.seed_s,
            "campaign_profiles_s": run.profiles_s,
            "campaign_queue_s": run.queue_s,
            "campaign_queued": run.queued,
            "campaign_first_send_s": run.first_send_s,
            "campaign_send_s": run.send_s,
            "campaign_messages_per_s": run.per_s,
            "campaign_bare_client_per_s": bare,
            "campaign_ratio_to_bare_client": run.per_s / bare if bare else 0.0,
            "campaign_sent_custom": run.sent_custom,
            "campaign_sent_template": run.sent_template,
            "campaign_deferred_to_tomorrow": run.deferred,
            "campaign_order_notices_sent": run.order_sent,
            "campaign_order_notices": run.order_notices,
            "campaign_template_quota": run.quota,
            "campaign_member_care_ceiling": ceiling,
            "campaign_quota_used": run.quota_used,
            "campaign_quota_exceeded": int(max(run.quota_used, run.api_template_sends) > run.quota),
            "campaign_results_s": run.result_s,
            "campaign_duplicates": run.duplicates,
            "campaign_lost": run.lost,
            "campaign_in_doubt": run.in_doubt,
        }
    )


async def main_async(args: argparse.Namespace, followers: int, var: Path) -> int:
    run = Run(followers, args.latency_ms, quota=followers)  # WeChat's 100,000 a day at 100,000 followers
    embedded = None
    redis_url = args.redis_url
    if not redis_url:
        embedded = EmbeddedRedis(var)
        redis_url = embedded.acquire()
    try:
        with contextlib.ExitStack() as stack:
            if args.database_url:
                db_url = stack.enter_context(postgres_schema(args.database_url, "campaign"))
            else:
                db_url = fresh_sqlite_url("campaign")
            open_database(db_url, var)
            try:
                upgrade()
                now = SystemClock().now()
                await asyncio.to_thread(seed, run, now)
                await send(run, db_url, redis_url, var)
                counts = status_counts()
            finally:
                close_database()
        bare = await baseline(followers, args.latency_ms, min(followers, 20_000))
    finally:
        if embedded is not None:
            embedded.release()
    _print(run, bare, "PostgreSQL" if args.database_url else "SQLite", counts)
    settled = run.sent + run.deferred + run.in_doubt == followers
    bad = run.duplicates or run.lost or run.quota_used > run.quota or not settled
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.campaign", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="400 followers, a few seconds (smoke test)")
    parser.add_argument("--followers", type=int, help="followers in the segment (default 100,000)")
    parser.add_argument("--latency-ms", type=int, default=20, help="latency of every emulated API call")
    parser.add_argument("--database-url", help="a PostgreSQL database (a fresh schema in it) instead of SQLite")
    parser.add_argument("--redis-url", help="use this Redis instead of the embedded one")
    args = parser.parse_args(argv)
    followers = args.followers or (400 if args.quick else 100_000)
    var = Path(os.environ.get("WXSHOP_VAR_DIR", "var")).resolve()
    var.mkdir(parents=True, exist_ok=True)
    return asyncio.run(main_async(args, followers, var))


if __name__ == "__main__":
    sys.exit(main())
