"""A worker killed mid-batch sends nothing twice: its batches are taken over once its heartbeat stops; template
sends that may have gone are repeated with the same client_msg_id (WeChat answers 45065), customer-service sends
that may have gone are marked in doubt (their own status, for an operator), never repeated."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from bot.process.config import Config
from bot.process.resources import open_resources
from bot.sandbox import World
from bot.sandbox.mp_api import create_mp_app
from bot.sandbox.world import Delivered
from scheduler.outbox import OutboxSettings
from store.core.clock import ManualClock, SystemClock
from store.outbox.kinds import Priority
from store.outbox.notices import (
    CUSTOM,
    FAILED,
    IN_DOUBT,
    PENDING,
    SENDING,
    SENT,
    TEMPLATE,
    Notice,
    claim_due,
    enqueue_notice,
    mark_started,
    status_counts,
)
from store.outbox.windows import CsWindows
from tests.outbox_support import FIELDS, outbox_config, outbox_rig, queue
from tests.support import ROOT, child_env, start_app_server


@pytest.fixture
def config(migrated: Config) -> Config:
    return outbox_config(migrated)


async def test_a_dead_dispatchers_batch_is_taken_over_without_repeats(config: Config) -> None:
    async with outbox_rig(config) as rig:
        for openid in ("o_cs", "o_t1", "o_t2"):
            rig.world.follow(openid)
        rig.clock.advance(minutes=2)
        rig.interact("o_cs", "payment")
        now = rig.clock.now()
        went, in_flight, queued, refused = (queue("o_cs", "paid", now, order_no=f"CS{i}") for i in range(4))
        sent_template = queue("o_t1", "paid", now)
        untouched = queue("o_t2", "paid", now)

        # a dispatcher claims the batch, writes ahead, gets some sends out and dies before recording anything
        ghost = "ghost-host:4242:dead0000/1"
        assert len(claim_due(now, 10, ghost, timedelta(minutes=5))) == 6
        mark_started(ghost, {CUSTOM: [went, in_flight, queued, refused], TEMPLATE: [sent_template]}, now)
        log, sender = rig.dispatcher.send_log, rig.dispatcher.sender
        await log.begin(ghost)
        await log.started(ghost, [went, in_flight, refused])
        await sender.send_text("o_cs", "您的订单CS0已支付")
        await log.sent(ghost, [went], refused=[refused])  # WeChat refused one (an errcode); in_flight never came back
        data = {"character_string2": {"value": "WX1"}, "amount1": {"value": "¥1.00"}}
        first = await sender.send_template("o_t1", "TPL_PAID", data, None, f"wxshop-{sent_template}")

        rig.clock.advance(seconds=10)  # well within the lease: only the missing heartbeat frees the batch
        stats = await rig.drain()
        assert stats.claimed == 6 and stats.duplicates == 1
        assert (rig.notice(went).status, rig.notice(went).channel) == (SENT, CUSTOM), "the log says it went"
        doubt = rig.notice(in_flight)
        assert (doubt.status, doubt.channel) == (IN_DOUBT, CUSTOM)
        assert doubt.reason.startswith("in doubt: a customer-service send was under way")
        assert rig.notice(queued).status == SENT, "never started: sent now"
        assert rig.notice(refused).status == SENT, "refused: nothing went, so it is sent now"
        resent = rig.notice(sent_template)
        assert (resent.status, resent.msgid) == (SENT, first.msgid), "45065 carries the first msgid"
        assert rig.notice(untouched).status == SENT
        texts = [d.payload["text"]["content"] for d in rig.world.delivered("o_cs")]
        assert texts == ["您的订单CS0已支付"] + [
            f"支付成功！您的订单CS{i}已支付¥199.00（红色连衣裙 M码），发送“订单详情”可随时查看进度。" for i in (2, 3)
        ]
        assert [len(rig.world.delivered(o)) for o in ("o_t1", "o_t2")] == [1, 1]


async def test_a_lost_send_log_puts_the_batch_in_doubt(config: Config) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_cs")
        rig.clock.advance(minutes=2)
        rig.interact("o_cs", "payment")
        notice = queue("o_cs", "paid", rig.clock.now())
        ghost = "ghost-host:4243:dead0001/1"
        claim_due(rig.clock.now(), 10, ghost, timedelta(minutes=5))
        mark_started(ghost, {CUSTOM: [notice]}, rig.clock.now())  # and Redis lost the log before it was read
        await rig.drain()
        assert rig.notice(notice).status == IN_DOUBT
        assert rig.world.delivered("o_cs") == []


async def test_an_overrun_lease_is_taken_over_and_old_template_attempts_are_in_doubt(config: Config) -> None:
    async with outbox_rig(config) as rig:
        rig.world.follow("o_a")
        rig.world.follow("o_b")
        rig.clock.advance(minutes=2)
        old = queue("o_a", "paid", rig.clock.now())
        fresh = queue("o_b", "paid", rig.clock.now())
        hung = "hung-host:1:alive000"
        await rig.dispatcher.liveness.beat(hung)  # alive, but stuck past its lease
        claim_due(rig.clock.now(), 1, f"{hung}/1", timedelta(minutes=5))
        mark_started(f"{hung}/1", {TEMPLATE: [old]}, rig.clock.now())
        rig.clock.advance(minutes=10)  # beyond the lease, and beyond WeChat's memory of the client_msg_id
        await rig.drain()
        assert rig.notice(old).status == IN_DOUBT and rig.notice(old).reason.startswith("in doubt: a template send")
        assert rig.notice(fresh).status == SENT
        assert rig.world.delivered("o_a") == []


# -- a real worker process, SIGKILLed mid-run --------------------------------------------------------------------

pytest_slow = pytest.mark.slow
NOTICES = 4000


def _spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`wxshop worker` with its output in a file (a pipe nobody reads would block it)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"], env=child_env(env), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )


async def _poll(condition, timeout: float, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for another process's progress, with a deadline (never for a timer)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            reasons = Counter(r for (r,) in Notice.select(Notice.reason).tuples())
            output = log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{what}: worker exit {proc.poll()}; reasons {reasons}; output:\n{output}")
        await asyncio.sleep(0.02)


@pytest_slow
async def test_a_worker_killed_mid_run_and_restarted_sends_nothing_twice(
    config: Config, env: dict[str, str], tmp_path: Path
) -> None:
    world = World(config.wechat.app_id, config.wechat.app_secret, ManualClock(SystemClock().now()))
    deliveries: list[Delivered] = []
    lock = threading.Lock()

    def seen(openid: str, delivered: Delivered) -> None:
        with lock:
            deliveries.append(delivered)

    world.subscribe_deliveries(seen)
    server = TestServer(create_mp_app(world, latency_ms=20), host="127.0.0.1")
    await start_app_server(server)
    config_file = tmp_path / "outbox.toml"
    config_file.write_text(
        '[templates.paid]\ntemplate_id = "TPL_PAID"\n'
        'fields = { order_no = "character_string2", amount = "amount1", paid_at = "time3", goods = "thing4" }\n',
        encoding="utf-8",
    )
    base = str(server.make_url("")).rstrip("/")
    child = {**env, "WXSHOP_CONFIG": str(config_file), "WXSHOP_WECHAT__API_BASE_URL": base}
    resources = open_resources(config)
    proc = None
    try:
        now = SystemClock().now()
        windows = CsWindows(resources.redis, resources.key)
        for i in range(NOTICES // 10):
            world.follow(f"o_{i}")
            if i % 4 == 0:  # a quarter of the followers just paid: their notices go as customer-service messages
                world.record_interaction(f"o_{i}", "payment")
                windows.record_interaction(f"o_{i}", "payment", now)
        for i in range(NOTICES):
            enqueue_notice(f"o_{i % (NOTICES // 10)}", "paid", {**FIELDS["paid"], "order_no": f"N{i:06d}"},
                           Priority.TRANSACTIONAL, now)  # fmt: skip

        log = tmp_path / "worker.log"
        proc = _spawn(child, log)
        await _poll(lambda: len(deliveries) >= NOTICES // 4, 60, "the first worker to be under way", proc, log)
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 10)
        at_kill = len(deliveries)
        held = Notice.select().where(Notice.status == SENDING).count()
        assert at_kill < NOTICES and held > 0, "killed mid-run, holding batches"

        proc = _spawn(child, log)
        settled = lambda: not {PENDING, SENDING} & set(status_counts())  # noqa: E731
        await _poll(settled, 90, "the restarted worker to finish", proc, log)
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 30)
        assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        resources.close_sync()
        await server.close()

    per_notice = Counter(
        d.payload["client_msg_id"].removeprefix("wxshop-") if d.kind == "template" else _order_no(d) for d in deliveries
    )
    rows = list(Notice.select())
    keys = {r.id: (str(r.id) if r.channel == TEMPLATE else r.values()["order_no"]) for r in rows}
    assert max(per_notice.values()) == 1, "nothing sent twice"
    counts = status_counts()
    assert counts.get(SENT, 0) + counts.get(IN_DOUBT, 0) == NOTICES and FAILED not in counts
    sent = [r for r in rows if r.status == SENT]
    assert all(per_notice[keys[r.id]] == 1 for r in sent), "every notice marked sent reached its follower once"
    in_doubt = [r for r in rows if r.status == IN_DOUBT]
    assert all(r.reason.startswith("in doubt") and r.channel == CUSTOM for r in in_doubt)
    settings = OutboxSettings()
    assert len(in_doubt) <= settings.lanes * settings.custom_chunk, "only sends in flight at the kill are in doubt"
    assert len(deliveries) == len(sent) + sum(per_notice[keys[r.id]] for r in in_doubt)


def _order_no(delivered: Delivered) -> str:
    found = re.search(r"订单(N\d{6})", delivered.payload["text"]["content"])
    assert found, delivered.payload
    return found[1]
