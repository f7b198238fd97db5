"""The outbox dispatcher: claims due notices in batches and sends them concurrently over aiohttp.

One dispatcher runs in each `wxshop worker` process as a long-running task with a few lanes; each lane loops
claim → choose channels → reserve quota → write ahead → wait for the send rate → send → record. Several workers
(any hosts) share the work through the database: a claim is a conditional update under row locks, so a notice
belongs to one batch at a time, and a batch whose worker died (no heartbeat) or overran its lease is taken over.
The daily template quota and the send rate live in Redis and are shared by all of them (scheduler/outbox_limits.py).

Nothing goes out twice: template sends carry `client_msg_id` = outbox id, so one that got no answer, or was under
way when its worker died, is sent again while WeChat remembers the id (a repeat is answered 45065); a
customer-service send whose outcome is unknown (in flight when its worker died, or no answer) is marked in doubt
instead of being repeated, for an operator to decide (store.outbox.notices.retry_notice).
Failures mean what WeChat says (scheduler/outbox_plan.py); transient ones come back with exponential backoff on
the business clock and a bounded number of attempts, and a lane whose batch mostly failed pauses, so an outage
never turns into a retry storm.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import redis

from scheduler.outbox_limits import Liveness, RateLimiter, SendLog, TemplateQuota
from scheduler.outbox_plan import (
    Drop,
    InDoubt,
    choose_channel,
    classify,
    reclaim_verdict,
    retry_at,
    template_fallback,
)
from scheduler.outbox_ports import NoticeSender, TemplateSent
from store.core.clock import Clock
from store.core.wechat_errors import OutcomeUnknown, WeChatError
from store.outbox.kinds import KINDS, NoticeKind, next_shanghai_midnight, shanghai_day_start
from store.outbox.notices import (
    CUSTOM,
    TEMPLATE,
    Claimed,
    Outcomes,
    claim_due,
    mark_started,
    record_outcomes,
    sending_owners,
    template_attempts_since,
)
from store.outbox.payment_windows import open_payment_windows
from store.outbox.template_lint import TemplateLintError, lint_template_data
from store.outbox.templates import TemplateSpec
from store.outbox.windows import GRANTED, AsyncCsWindows, WindowVerdict

log = logging.getLogger("wxshop.outbox")

LinkMaker = Callable[[list[Claimed]], Mapping[int, str]]  # notice id → the link its message carries (tracked)


@dataclass(frozen=True)
class OutboxSettings:
    batch_size: int = 250
    lanes: int = 4
    concurrency: int = 200  # template sends in flight per process
    custom_chunk: int = 16  # customer-service sends a lane has in flight at once: only those can be in doubt
    lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 5
    retry_base: timedelta = timedelta(seconds=30)
    retry_cap: timedelta = timedelta(hours=1)
    dedup_window: timedelta = timedelta(minutes=9)  # WeChat remembers a client_msg_id for about 10 minutes
    idle_poll_s: float = 0.5
    owner_scan_s: float = 2.0
    beat_s: float = 1.0
    pause_s: float = 2.0

    @property
    def connections(self) -> int:
        """HTTP connections a dispatcher may have open: template sends plus every lane's customer-service chunk."""
        return self.concurrency + self.lanes * self.custom_chunk


@dataclass
class DispatchStats:
    batches: int = 0
    claimed: int = 0
    sent_custom: int = 0
    sent_template: int = 0
    duplicates: int = 0
    fallbacks: int = 0
    dropped: int = 0
    failed: int = 0
    retried: int = 0
    deferred: int = 0
    in_doubt: int = 0
    windows_restored: int = 0  # payment windows put back into Redis from the database
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Template:
    notice: Claimed
    kind: NoticeKind
    spec: TemplateSpec
    data: dict[str, dict[str, str]]


class Dispatcher:
    def __init__(
        self,
        *,
        sender: NoticeSender,
        windows: AsyncCsWindows,
        quota: TemplateQuota,
        rate: RateLimiter,
        liveness: Liveness,
        send_log: SendLog,
        templates: Mapping[str, TemplateSpec],
        clock: Clock,
        name: str,
        settings: OutboxSettings | None = None,
        links: LinkMaker | None = None,
    ) -> None:
        self.sender = sender
        self.links = links
        self.windows = windows
        self.quota = quota
        self.rate = rate
        self.liveness = liveness
        self.send_log = send_log
        self.templates = dict(templates)
        self.clock = clock
        self.settings = settings or OutboxSettings()
        self.id = f"{name}:{uuid.uuid4().hex[:8]}"
        self.stats = DispatchStats()
        self._seq = itertools.count(1)
        self._sends = asyncio.Semaphore(self.settings.concurrency)
        self._dead: list[str] = []
        self._dead_checked = float("-inf")

    # -- running ---------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; a lane finishes the batch it holds before it returns."""
        await self.liveness.beat(self.id)
        beat = asyncio.create_task(self._beat(stop))
        try:
            await asyncio.gather(*(self._lane(stop) for _ in range(self.settings.lanes)))
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
            await self.liveness.stop(self.id)

    async def drain(self) -> DispatchStats:
        """Process batches until nothing is due (tests, benchmarks, `--burst`)."""
        await self.liveness.beat(self.id)
        self._dead_checked = float("-inf")
        while await self.process_once():
            await self.liveness.beat(self.id)
        return self.stats

    async def _lane(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            before = self.stats.retried
            try:
                claimed = await self.process_once()
            except Exception:
                log.exception("outbox batch failed", extra={"dispatcher": self.id})
                await _wait(stop, self.settings.pause_s)
                continue
            if claimed == 0:
                await _wait(stop, self.settings.idle_poll_s)
            elif (self.stats.retried - before) * 2 > claimed:
                log.warning("outbox: most sends failed transiently, pausing", extra={"dispatcher": self.id})
                await _wait(stop, self.settings.pause_s)

    async def _beat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.liveness.beat(self.id)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:  # Redis away: a line a beat
                log.warning("outbox heartbeat failed", extra={"error": str(exc)})
            except Exception:
                log.exception("outbox heartbeat failed")
            await _wait(stop, self.settings.beat_s)

    # -- one batch -------------------------------------------------------------------------------------------

    async def process_once(self) -> int:
        """Claim one batch, send it, record it; returns how many notices it claimed."""
        now = self.clock.now()
        await self._refresh_dead()
        token = f"{self.id}/{next(self._seq)}"
        size, lease = self.settings.batch_size, self.settings.lease
        claimed = await asyncio.to_thread(claim_due, now, size, token, lease, self._dead)
        if not claimed:
            return 0
        outcomes = Outcomes()
        await self._dispatch(claimed, token, now, outcomes)
        await asyncio.to_thread(record_outcomes, token, outcomes, self.clock.now())
        self.stats.batches += 1
        self.stats.claimed += len(claimed)
        self._count(outcomes)
        return len(claimed)

    def _count(self, outcomes: Outcomes) -> None:
        self.stats.sent_custom += len(outcomes.sent_custom)
        self.stats.sent_template += len(outcomes.sent_template)
        self.stats.dropped += len(outcomes.dropped)
        self.stats.failed += len(outcomes.failed)
        self.stats.retried += len(outcomes.retry) + len(outcomes.resend)
        self.stats.deferred += len(outcomes.deferred)
        self.stats.in_doubt += len(outcomes.in_doubt)
        for reasons in (outcomes.dropped, outcomes.failed):
            self.stats.reasons.update(r.split(":", 1)[0] for r in reasons.values())

    async def _refresh_dead(self) -> None:
        if time.monotonic() - self._dead_checked < self.settings.owner_scan_s:
            return
        self._dead_checked = time.monotonic()
        tokens = await asyncio.to_thread(sending_owners)
        owners = sorted({t.rsplit("/", 1)[0] for t in tokens} - {self.id})
        dead = set(await self.liveness.dead(owners))
        self._dead = [t for t in tokens if t.rsplit("/", 1)[0] in dead]

    async def _dispatch(self, claimed: list[Claimed], token: str, now: datetime, out: Outcomes) -> None:
        tracked = [n for n in claimed if (k := KINDS.get(n.kind)) is not None and k.tracked]
        if self.links is not None and tracked:  # links of their own (campaigns): read in a thread, once a batch
            links = await asyncio.to_thread(self.links, tracked)
            claimed = [replace(n, link=links[n.id]) if n.id in links else n for n in claimed]
        fresh: list[tuple[Claimed, NoticeKind]] = []
        resend: list[_Template] = []
        custom_states = await self._custom_states(claimed)
        for notice in claimed:
            kind = KINDS.get(notice.kind)
            if kind is None:
                out.failed[notice.id] = f"unknown_kind: {notice.kind}"
                continue
            again = reclaim_verdict(notice, now, self.settings.dedup_window, custom_states.get(notice.id))
            if again == "sent":  # its dead dispatcher's customer-service send went: on record now
                out.sent_custom.append(notice.id)
                continue
            if isinstance(again, InDoubt):
                out.in_doubt[notice.id] = again.reason
            elif again == "resend":
                if (item := self._template(notice, kind, out)) is not None:
                    resend.append(item)
            else:
                fresh.append((notice, kind))

        customs: list[tuple[Claimed, NoticeKind]] = []
        wanted: list[_Template] = []
        windowed = [(n, k) for n, k in fresh if not k.template_only]  # template-only kinds take no window slot
        verdicts = await self.windows.reserve_many([n.openid for n, _ in windowed], now)
        verdicts = await self._restore_windows(windowed, verdicts, now)
        verdict_of = {n.id: v for (n, _), v in zip(windowed, verdicts, strict=True)}
        for notice, kind in fresh:
            choice = choose_channel(kind, verdict_of.get(notice.id, "closed"), self.templates)
            if isinstance(choice, Drop):
                out.dropped[notice.id] = choice.reason
            elif choice == CUSTOM:
                customs.append((notice, kind))
            elif (item := self._template(notice, kind, out)) is not None:
                wanted.append(item)
        first = await self._reserve_quota(wanted, now, out)
        templates = resend + first

        # a resend keeps its first start: WeChat remembers the client_msg_id from the first send on
        started = {CUSTOM: [n.id for n, _ in customs], TEMPLATE: [t.notice.id for t in first]}
        if customs:  # before the write-ahead: Redis away here leaves nothing marked started, so nothing in doubt
            await self.send_log.begin(token)
        await asyncio.to_thread(mark_started, token, started, now)
        # the wait for the send rate comes after the write-ahead: a worker killed while it waits leaves its quota
        # reservations on record as template sends started, which the batch's next owner sends without reserving
        # again (customer-service ones the send log shows unsent are sent as usual)
        await self.rate.acquire(len(customs) + len(templates))
        custom_sends = asyncio.ensure_future(self._send_customs(token, customs))
        template_sends = asyncio.gather(*(self._send_template(t) for t in templates))
        custom_results = await custom_sends
        if customs:  # recorded at once: a customer-service send is in doubt until its outcome is on record
            early = Outcomes()
            fallback = await self._custom_outcomes(customs, custom_results, now, early)
            await asyncio.to_thread(record_outcomes, token, early, self.clock.now())
            self._count(early)
        await self._template_outcomes(templates, await template_sends, now, out)
        if customs and fallback:
            await self._fall_back(fallback, token, out)

    async def _restore_windows(
        self, fresh: list[tuple[Claimed, NoticeKind]], verdicts: list[WindowVerdict], now: datetime
    ) -> list[WindowVerdict]:
        """Where Redis knows no open window, a payment's may be in the database only (Redis lost it, or was away
        when the payment came): put it back and ask again for those notices, so no notice waits on Redis's memory."""
        missing = {n.openid for (n, _), v in zip(fresh, verdicts, strict=True) if v not in GRANTED}
        if not missing:
            return verdicts
        opened = await asyncio.to_thread(open_payment_windows, missing, now)
        if not opened:
            return verdicts
        await self.windows.restore_payments(opened)
        again = [i for i, v in enumerate(verdicts) if v not in GRANTED and fresh[i][0].openid in opened]
        answers = await self.windows.reserve_many([fresh[i][0].openid for i in again], now)
        verdicts = list(verdicts)
        for i, verdict in zip(again, answers, strict=True):
            verdicts[i] = verdict
        self.stats.windows_restored += len(opened)
        return verdicts

    async def _custom_states(self, claimed: list[Claimed]) -> dict[int, str]:
        """Of the notices taken over mid customer-service send, how far each send got (see `SendLog`)."""
        by_owner: dict[str, list[int]] = {}
        for notice in claimed:
            if notice.previous_channel == CUSTOM and notice.previous_owner and notice.previous_started_at:
                by_owner.setdefault(notice.previous_owner, []).append(notice.id)
        states: dict[int, str] = {}
        for owner, ids in by_owner.items():
            states |= await self.send_log.states(owner, ids)
        return states

    def _template(self, notice: Claimed, kind: NoticeKind, out: Outcomes) -> _Template | None:
        """The template payload, linted once more before it is sent (config may have changed since enqueue)."""
        spec = self.templates.get(kind.name)
        if spec is None:
            out.failed[notice.id] = f"no_template: [templates.{kind.name}] is no longer configured"
            return None
        try:
            data = spec.data(notice.values)
            lint_template_data(data)
        except (KeyError, TemplateLintError) as exc:
            out.dropped[notice.id] = f"template_lint: {exc}"[:255]
            return None
        return _Template(notice, kind, spec, data)

    async def _reserve_quota(self, items: list[_Template], now: datetime, out: Outcomes) -> list[_Template]:
        """Grant what the day's quota allows, highest priority first; the rest waits for tomorrow."""
        if not items:
            return []
        wants = Counter(t.notice.priority for t in items)
        day_start = shanghai_day_start(now)
        granted = await self.quota.reserve(wants, now, lambda: template_attempts_since(day_start))
        tomorrow = next_shanghai_midnight(now)
        kept: list[_Template] = []
        for item in items:
            left = 0 if granted is None else granted.get(item.notice.priority, 0)
            if left > 0:
                granted[item.notice.priority] = left - 1  # type: ignore[index]
                kept.append(item)
            else:
                why = "closed for today after 45009" if granted is None else "today's share for this priority is spent"
                out.deferred[item.notice.id] = (tomorrow, f"quota: {why}")
        return kept

    async def _fall_back(self, items: list[tuple[Claimed, NoticeKind]], token: str, out: Outcomes) -> None:
        """Customer-service sends WeChat refused (45015/45047) go again as template messages."""
        now = self.clock.now()
        wanted = [t for n, k in items if (t := self._template(n, k, out)) is not None]
        templates = await self._reserve_quota(wanted, now, out)
        if not templates:
            return
        await asyncio.to_thread(mark_started, token, {TEMPLATE: [t.notice.id for t in templates]}, now)
        await self.rate.acquire(len(templates))  # after the write-ahead: see `_dispatch`
        results = await asyncio.gather(*(self._send_template(t) for t in templates))
        self.stats.fallbacks += len(templates)
        await self._template_outcomes(templates, list(results), now, out)

    # -- sending and reading the answers -----------------------------------------------------------------------

    async def _send_customs(self, token: str, customs: list[tuple[Claimed, NoticeKind]]) -> list[Exception | None]:
        """Customer-service sends in chunks: the send log notes a chunk as started before its requests go and
        the accepted ones as sent when the chunk returns, so a crash leaves at most one chunk in doubt."""
        results: list[Exception | None] = []
        size = self.settings.custom_chunk
        for i in range(0, len(customs), size):
            chunk = customs[i : i + size]
            try:
                await self.send_log.started(token, [n.id for n, _ in chunk])
            except Exception as exc:  # no log, no send: a crash now must not leave a send we cannot place
                results += [WeChatError(None, f"send log unavailable: {exc}")] * len(chunk)
                continue
            got = await asyncio.gather(*(self._send_custom(n, k) for n, k in chunk))
            answered = list(zip(chunk, got, strict=True))
            try:
                await self.send_log.sent(
                    token,
                    [n.id for (n, _), r in answered if r is None],
                    refused=[n.id for (n, _), r in answered if isinstance(r, WeChatError) and r.errcode is not None],
                )
            except Exception:  # they went; only a crash before the batch is recorded would leave them in doubt
                log.exception("outbox send log unavailable")
            results += got
        return results

    async def _send_custom(self, notice: Claimed, kind: NoticeKind) -> Exception | None:
        try:
            text = kind.render_text(notice.values)
            await self.sender.send_text(notice.openid, f"{text}\n{notice.link}" if notice.link else text)
        except Exception as exc:
            return exc
        return None

    async def _send_template(self, item: _Template) -> TemplateSent | Exception:
        notice = item.notice
        async with self._sends:
            try:
                return await self.sender.send_template(
                    notice.openid, item.spec.template_id, item.data, notice.link or item.spec.url, notice.client_msg_id
                )
            except Exception as exc:
                return exc

    async def _custom_outcomes(
        self, customs: list[tuple[Claimed, NoticeKind]], results: list, now: datetime, out: Outcomes
    ) -> list[tuple[Claimed, NoticeKind]]:
        fallback: list[tuple[Claimed, NoticeKind]] = []
        refused: list[str] = []
        for (notice, kind), result in zip(customs, results, strict=True):
            if result is None:
                out.sent_custom.append(notice.id)
                continue
            if isinstance(result, OutcomeUnknown):  # no idempotency key for these: never repeated on our own
                out.in_doubt[notice.id] = f"in doubt: the customer-service send got no answer ({result})"[:255]
                continue
            verdict, reason = self._verdict(result)
            if verdict == "fallback":
                refused.append(notice.openid)
                allowed = template_fallback(kind, self.templates, result)
                if allowed is True:
                    fallback.append((notice, kind))
                else:
                    out.dropped[notice.id] = allowed.reason  # type: ignore[union-attr]
            elif verdict == "drop":
                out.dropped[notice.id] = reason
            elif verdict in ("retry", "close_day"):
                self._retry(notice, reason, now, out)
            else:
                out.failed[notice.id] = reason
        await self.windows.spend(refused)
        return fallback

    async def _template_outcomes(self, items: list[_Template], results: list, now: datetime, out: Outcomes) -> None:
        for item, result in zip(items, results, strict=True):
            notice = item.notice
            if isinstance(result, TemplateSent):
                out.sent_template[notice.id] = result.msgid
                self.stats.duplicates += result.duplicate
                continue
            if isinstance(result, OutcomeUnknown):
                self._resend(notice, result, now, out)
                continue
            verdict, reason = self._verdict(result)
            if verdict == "drop":
                out.dropped[notice.id] = reason
            elif verdict == "close_day":
                await self.quota.close_day(now)
                out.deferred[notice.id] = (next_shanghai_midnight(now), reason)
            elif verdict == "retry":
                self._retry(notice, reason, now, out)
            else:
                out.failed[notice.id] = reason

    def _verdict(self, error: Exception) -> tuple[str, str]:
        if isinstance(error, WeChatError):
            return classify(error)
        log.error("outbox send raised %r", error, exc_info=error)
        return "retry", f"retry: unexpected {type(error).__name__}: {error}"[:200]

    def _resend(self, notice: Claimed, error: OutcomeUnknown, now: datetime, out: Outcomes) -> None:
        """A template send that got no answer goes again soon, as the same template send: WeChat answers 45065
        if the first went. Not with growing waits: the repeats must come while WeChat remembers the id."""
        attempts = notice.attempts + 1
        if attempts >= self.settings.max_attempts:
            out.in_doubt[notice.id] = f"in doubt: no answer to {attempts} template sends ({error})"[:255]
        else:
            out.resend[notice.id] = (now + self.settings.retry_base, f"resend: {error}"[:255])

    def _retry(self, notice: Claimed, reason: str, now: datetime, out: Outcomes) -> None:
        attempts = notice.attempts + 1
        if attempts >= self.settings.max_attempts:
            out.failed[notice.id] = f"gave_up: after {attempts} attempts, {reason}"[:255]
        else:
            out.retry[notice.id] = (retry_at(now, attempts, self.settings.retry_base, self.settings.retry_cap), reason)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep unless stopped first (polling intervals and pauses, wall time)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
