"""A campaign of a few thousand followers sent by two real `wxshop worker` processes, one of them SIGKILLed
mid-campaign and started again: every targeted follower gets the message once (the emulator's deliveries
counted per openid), nobody outside the audience gets it, and `wxshop campaigns show` adds up to what the
emulator delivered. Customer-service sends in flight at the kill are the only ones allowed to be in doubt
(WeChat has no idempotency key for them): at most one delivery each, and counted as failed, never as sent.
And the day's template quota: a worker killed while it waits for the send rate leaves nothing counted twice."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from bot.jobs.outbox_service import build_dispatcher, template_quota
from bot.process.config import Config
from bot.process.resources import Resources, open_resources
from bot.sandbox import World
from bot.sandbox.mp_api import create_mp_app
from bot.sandbox.mp_state import mp_state
from bot.sandbox.world import Delivered
from scheduler.outbox import OutboxSettings
from store.core.clock import ManualClock, SystemClock
from store.core.db import write_transaction
from store.members.followers import Follower
from store.outbox.notices import CUSTOM, DELIVERED, IN_DOUBT, PENDING, SENDING, SENT, TEMPLATE, Notice
from store.outbox.windows import CsWindows
from store.profiles.compute import rebuild_profiles
from store.profiles.models import Campaign
from store.profiles.rules import ProfileRules
from store.profiles.segments import parse_rule, save_segment
from tests.outbox_support import outbox_config, outbox_rig, queue
from tests.support import ROOT, child_env, start_app_server, wxshop

pytestmark = pytest.mark.slow

FOLLOWERS = 3000  # in the segment and following
LEFT = 100  # in the segment's profiles but no longer following: not targeted
SUBJECT, DETAIL = "冬季新品上架", "回复上新查看本周新款"
CONFIG = """
[templates.campaign]
template_id = "TPL_CAMPAIGN"
fields = { subject = "thing1", detail = "thing2", sent_at = "time3" }
"""


def _spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`wxshop worker` with its output in a file (a pipe nobody reads would block it)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"], env=child_env(env), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )


Condition = Callable[[], bool | Awaitable[bool]]


async def _poll(condition: Condition, timeout: float, what: str, procs: list[subprocess.Popen], log: Path) -> None:
    """Wait for the workers' progress, with a deadline (never for a timer)."""
    deadline = time.monotonic() + timeout
    while not await _holds(condition):
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            output = log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{what}: workers {[p.poll() for p in procs]}; output:\n{output}")
        await asyncio.sleep(0.02)


async def _holds(condition: Condition) -> bool:
    outcome = condition()
    return await outcome if inspect.isawaitable(outcome) else outcome


def _dispatchers_up(log: Path) -> int:
    """Workers (started or restarted) whose dispatcher is running, from their log."""
    return log.read_text(errors="replace").count("outbox dispatcher started")


async def _quota_used(config: Config, resources: Resources) -> int:
    """Today's template sends as the dispatchers counted them (the quota they reserve from)."""
    return await template_quota(config, resources).used(SystemClock().now())


def _seed_followers(world: World, windows: CsWindows, now: datetime) -> set[str]:
    """Followers in the shop and the emulator, profiled, in the segment 全员; every fourth has written to us (a
    customer-service window). Returns the openids that follow."""
    following = {f"o_c{i:05d}" for i in range(FOLLOWERS)}
    gone = [f"o_gone{i}" for i in range(LEFT)]
    rows = [{"openid": o, "subscribed": True, "first_followed_at": now, "followed_at": now, "created_at": now}
            for o in sorted(following)]  # fmt: skip
    rows += [{"openid": o, "subscribed": False, "first_followed_at": now, "unfollowed_at": now, "created_at": now}
             for o in gone]  # fmt: skip
    with write_transaction():
        for start in range(0, len(rows), 500):
            Follower.insert_many(rows[start : start + 500]).execute()
    rebuild_profiles(ProfileRules(), now)
    save_segment("全员", parse_rule({}), now)
    for i, openid in enumerate(sorted(following)):
        world.follow(openid)
        if i % 4 == 0:
            world.record_interaction(openid, "message")
            windows.record_interaction(openid, "message", now)
    return following


async def test_a_campaign_survives_a_worker_killed_mid_send(migrated: Config, env: dict[str, str], tmp_path: Path):
    world = World(migrated.wechat.app_id, migrated.wechat.app_secret, ManualClock(SystemClock().now()))
    deliveries: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    lock = threading.Lock()

    def seen(openid: str, delivered: Delivered) -> None:
        payload = delivered.payload
        ours = (
            payload.get("template_id") == "TPL_CAMPAIGN"
            if delivered.kind == "template"
            else SUBJECT in payload["text"]["content"]
        )
        if ours:
            with lock:
                deliveries[openid] += 1
                channels[TEMPLATE if delivered.kind == "template" else CUSTOM] += 1

    world.subscribe_deliveries(seen)
    server = TestServer(create_mp_app(world, latency_ms=20), host="127.0.0.1")
    await start_app_server(server)
    config_file = tmp_path / "campaign.toml"
    config_file.write_text(CONFIG, encoding="utf-8")
    base = str(server.make_url("")).rstrip("/")
    # the send rate is held down so the campaign takes a few seconds: long enough to kill a worker inside it
    child = {**env, "WXSHOP_CONFIG": str(config_file), "WXSHOP_WECHAT__API_BASE_URL": base,
             "WXSHOP_SHOP__OUTBOX_RATE_PER_SECOND": "800"}  # fmt: skip
    resources = open_resources(migrated)
    workers: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "workers.log"
    try:
        now = SystemClock().now()
        following = await asyncio.to_thread(_seed_followers, world, CsWindows(resources.redis, resources.key), now)
        made = wxshop("campaigns", "create", "冬季上新", "--segment", "全员", "--subject", SUBJECT, "--detail", DETAIL,
                      env=child)  # fmt: skip
        assert made.returncode == 0, made.stderr
        workers = [_spawn(child, log), _spawn(child, log)]
        await _poll(lambda: _dispatchers_up(log) >= 2, 60, "both workers to be up", workers, log)
        started = await asyncio.to_thread(wxshop, "campaigns", "start", "冬季上新", env=child)
        assert started.returncode == 0, started.stderr
        cid = Campaign.get(Campaign.name == "冬季上新").id
        mine = Notice.dedup_key.startswith(f"campaign:{cid}:")
        assert Notice.select().where(mine).count() == FOLLOWERS

        total = lambda: sum(deliveries.values())  # noqa: E731
        held_by = lambda pid: Notice.select().where(mine, Notice.lease_owner.contains(f":{pid}:")).count()  # noqa: E731

        async def under_way() -> bool:  # the queries in a thread: the emulator shares this event loop
            return total() >= FOLLOWERS // 3 and await asyncio.to_thread(held_by, workers[0].pid) > 0

        await _poll(under_way, 60, "the campaign to be under way in both workers", workers, log)
        os.kill(workers[0].pid, signal.SIGKILL)
        await asyncio.to_thread(workers[0].wait, 10)
        at_kill = total()
        held = held_by(workers[0].pid)
        assert at_kill < FOLLOWERS and held > 0, "killed mid-campaign, holding batches of it"
        workers[0] = _spawn(child, log)

        async def settled() -> bool:
            busy = Notice.select().where(mine, Notice.status.in_([PENDING, SENDING]))
            return not await asyncio.to_thread(busy.exists)

        await _poll(settled, 120, "the campaign to be sent", workers, log)
        up = lambda: _dispatchers_up(log) >= 3  # noqa: E731
        await _poll(up, 60, "the restarted worker to be up (a SIGTERM before it is kills it)", workers, log)
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            assert await asyncio.to_thread(proc.wait, 30) == 0, log.read_text(errors="replace")[-3000:]
        quota_used = await _quota_used(migrated, resources)
        wechat_count = mp_state(server.app).templates.sent_today(world.clock.now())
        shown = wxshop("campaigns", "show", "冬季上新", env=child)
        assert shown.returncode == 0, shown.stderr
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        await resources.aclose()
        await server.close()

    notices = {n.openid: n for n in Notice.select().where(mine)}
    assert set(notices) == following and set(deliveries) <= following, "the audience, and only the audience"
    assert max(deliveries.values()) == 1, f"sent twice: {[o for o, n in deliveries.items() if n > 1][:5]}"
    statuses = Counter(n.status for n in notices.values())
    assert set(statuses) <= {SENT, DELIVERED, IN_DOUBT}, statuses
    sent = [o for o, n in notices.items() if n.status in (SENT, DELIVERED)]
    assert all(deliveries[o] == 1 for o in sent), "every notice on record as sent reached its follower once"
    in_doubt = [n for n in notices.values() if n.status == IN_DOUBT]
    settings = OutboxSettings()
    assert all(n.channel == CUSTOM for n in in_doubt), "template sends are repeated safely, never left in doubt"
    assert len(in_doubt) <= settings.lanes * settings.custom_chunk, "only sends in flight at the kill"
    assert sum(deliveries.values()) == len(sent) + sum(deliveries[n.openid] for n in in_doubt)

    result = json.loads(shown.stdout)
    assert (result["targeted"], result["queued"], result["pending"]) == (FOLLOWERS, FOLLOWERS, 0)
    assert result["sent"] == len(sent) and result["cancelled"] == 0
    assert result["failed"] == result["in_doubt"] == len(in_doubt), "in doubt: apart from what WeChat refused"
    by_channel = Counter(n.channel for n in notices.values() if n.status in (SENT, DELIVERED))
    assert result["by_channel"] == {CUSTOM: by_channel[CUSTOM], TEMPLATE: by_channel[TEMPLATE]}
    assert by_channel[CUSTOM] + len(in_doubt) == FOLLOWERS // 4, "the followers with a window got a CS message"
    assert channels[TEMPLATE] == by_channel[TEMPLATE] == wechat_count
    assert quota_used >= wechat_count, "the shop never counts fewer template sends than WeChat (its cap)"


async def test_a_dispatcher_killed_waiting_for_the_send_rate_leaves_no_quota_spent_for_nothing(
    migrated: Config,
) -> None:
    """A campaign at full speed waits for the send rate after reserving the day's template quota. A worker killed
    in that wait must leave its reservations on record, so the batch's new owner sends those notices without
    reserving again: else the shop counts quota WeChat never saw, and at the cap today's notices wait for
    tomorrow."""
    config = outbox_config(migrated, template_daily_quota=3)
    async with outbox_rig(config) as rig:
        for openid in ("o_a", "o_b", "o_c"):
            rig.world.follow(openid)
        rig.clock.advance(minutes=2)  # the follows' windows are over: template messages
        ids = [queue(openid, "paid", rig.clock.now()) for openid in ("o_a", "o_b", "o_c")]
        slow = dataclasses.replace(config, shop=dataclasses.replace(config.shop, outbox_rate_per_second=1))
        dying = build_dispatcher(slow, rig.resources, rig.dispatcher.sender, "dying", OutboxSettings(lanes=1))
        await dying.rate.acquire(1)  # the second's token is spent: the next batch waits for the rate
        bucket = dying.rate.key
        taken_at = rig.resources.redis.hget(bucket, "at")
        batch = asyncio.create_task(dying.process_once())
        deadline = time.monotonic() + 10
        while rig.resources.redis.hget(bucket, "at") == taken_at:  # until the batch asks for the rate
            assert not batch.done() and time.monotonic() < deadline, "the batch never reached the send rate"
            await asyncio.sleep(0.01)
        batch.cancel()  # the worker dies while it waits
        with contextlib.suppress(asyncio.CancelledError):
            await batch
        assert rig.world.delivered("o_a") == [] and await dying.quota.used(rig.clock.now()) == 3

        rig.clock.advance(minutes=6)  # its lease is over: the batch is taken over
        await rig.drain()
        assert [rig.notice(i).status for i in ids] == [SENT, SENT, SENT], "sent today, not deferred"
        assert all(len(rig.world.delivered(o)) == 1 for o in ("o_a", "o_b", "o_c"))
        assert await rig.dispatcher.quota.used(rig.clock.now()) == rig.state.templates.sent_today(rig.clock.now())
