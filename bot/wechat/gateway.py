"""The callback endpoint `GET/POST {server.wechat_path}`: a thin aiohttp adapter over the inbound core.

Order of work for a POST: size limit → `signature` → `timestamp` within the window (`bot.wechat.replay`) → in
safe mode, encrypted only → parse (and decrypt, checking `msg_signature` and AppId) → nonce and dedup claim in
Redis, one script (with the sender's dialog state in the same round trip, and the customer-service window
recorded once claimed: `bot.wechat.sender`) → handler on the thread pool, raced against
`[server] reply_deadline_ms` → reply (encrypted with the key the request came in under). A reply not ready by
the deadline is answered with an empty body at once and delivered later through the customer-service API; so
are a reply's follow-ups, after it. Both go through `bot.wechat.customer_service`, which takes each message from the
follower's customer-service window first; the passive reply itself takes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from functools import partial

import redis
from aiohttp import web
from werobot.messages.messages import WeChatMessage
from werobot.robot import BaseRoBot
from werobot.utils import check_signature as werobot_check_signature

from bot.chat.conversation import DIALOG_STATE, ENGINE
from bot.process import metrics
from bot.process.config import Config
from bot.web.runtime import CONFIG, EXECUTOR, RESOURCES, run_blocking
from bot.wechat.api import WeChatGateway
from bot.wechat.crypto import CryptoRejected, InboundCrypto
from bot.wechat.customer_service import CustomerService, followup_messages, late_messages
from bot.wechat.dedup import DONE, LATE, Claim, ReplyCache, Seen
from bot.wechat.inbound import BadMessage, Inbound, KfAccountFor, Outcome, dedup_key, parse_xml, to_message
from bot.wechat.replay import LocalNonces, Nonce, Replayed, fresh_timestamp, nonce_for
from bot.wechat.sender import SenderRedis
from handlers import register_all
from handlers.context import HandlerContext
from store.members.accounts import member
from store.orders.pricing import Tier

log = logging.getLogger("wxshop.gateway")

INBOUND = web.AppKey("inbound", Inbound)
CRYPTO = web.AppKey("crypto", InboundCrypto)
REPLIES = web.AppKey("replies", ReplyCache)
SENDERS = web.AppKey("senders", SenderRedis)
WECHAT = web.AppKey("wechat", WeChatGateway)
CUSTOMER_SERVICE = web.AppKey("customer_service", CustomerService)
LATE_TASKS = web.AppKey("late_tasks", set)
LOCAL_NONCES = web.AppKey("local_nonces", LocalNonces)
WECHAT_WAIT_S = 5.0  # WeChat drops the connection after this; the reply deadline is set inside it
LATE_MARK_S = 0.3  # at most what marking a late message may add to the reply deadline


def setup_gateway(app: web.Application) -> None:
    """Register the callback route; the robot, crypto, reply cache and outbound client open with the app."""
    config = app[CONFIG]
    app.router.add_get(config.server.wechat_path, handshake)
    app.router.add_post(config.server.wechat_path, receive)
    app.cleanup_ctx.append(_gateway_ctx)


def kf_account_for(config: Config) -> KfAccountFor | None:
    """专属客服: VIP and 黑金 members' transfers go to their tier's account when one is configured (the member's
    stored tier: a payment or the nightly sweep keeps it current)."""
    accounts = {Tier.VIP.value: config.shop.kf_account_vip, Tier.BLACK_GOLD.value: config.shop.kf_account_black_gold}
    accounts = {tier: account for tier, account in accounts.items() if account}
    if not accounts:
        return None

    def account_for(openid: str) -> str | None:
        row = member(openid)
        return accounts.get(row.tier) if row is not None else None

    return account_for


async def _gateway_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    resources = app[RESOURCES]
    wechat = WeChatGateway(config, resources.redis)
    robot = BaseRoBot(token=config.wechat.token, SESSION_STORAGE=False, app_id=config.wechat.app_id)
    dialogs = app[DIALOG_STATE]
    handling = HandlerContext(clock=resources.clock, engine=app[ENGINE], state=dialogs, shop_name=config.shop.name)
    register_all(robot, handling)
    app[WECHAT] = wechat
    app[INBOUND] = Inbound(robot, kf_account_for(config))
    app[CRYPTO] = InboundCrypto(
        config.wechat.token,
        config.wechat.app_id,
        [config.wechat.encoding_aes_key, config.wechat.previous_encoding_aes_key],
    )
    app[REPLIES] = ReplyCache(resources.pipe, config.redis.prefix)
    app[LOCAL_NONCES] = LocalNonces()
    app[SENDERS] = SenderRedis(resources.pipe, resources.windows, resources.clock, dialogs.keys, handling.stateful)
    app[CUSTOMER_SERVICE] = CustomerService(resources.windows, wechat, resources.clock, partial(run_blocking, app))
    app[LATE_TASKS] = set()
    await resources.windows.load_scripts()
    await app[REPLIES].load_scripts()
    yield
    if app[LATE_TASKS]:
        await asyncio.wait(app[LATE_TASKS], timeout=config.server.shutdown_timeout_s)
    wechat.close()


def _reject(status: int, reason: str, request: web.Request, detail: str = "") -> web.Response:
    metrics.REJECTED.labels(reason).inc()
    log.warning("rejected callback", extra={"reason": reason, "detail": detail[:200], "peer": request.remote})
    return web.Response(status=status, text=reason)


def _signed(request: web.Request) -> bool:
    q = request.query
    signature, timestamp, nonce = q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", "")
    if not (signature and timestamp and nonce):
        return False
    return werobot_check_signature(request.app[CONFIG].wechat.token, timestamp, nonce, signature)


@dataclass(frozen=True)
class _Fresh:
    """A signed query whose timestamp is within the window: the timestamp, and now, by the app's clock."""

    timestamp: int
    now: float


def _fresh(request: web.Request) -> _Fresh | None:
    now = request.app[RESOURCES].clock.now().timestamp()
    timestamp = fresh_timestamp(request.query["timestamp"], now, request.app[CONFIG].wechat.timestamp_window_s)
    return None if timestamp is None else _Fresh(timestamp, now)


async def handshake(request: web.Request) -> web.Response:
    """WeChat's URL verification: echo `echostr` when the signature is ours and fresh."""
    if not _signed(request):
        return _reject(403, "bad signature", request)
    if _fresh(request) is None:
        return _reject(403, "stale timestamp", request, request.query["timestamp"])
    return web.Response(text=request.query.get("echostr", ""), content_type="text/plain")


async def receive(request: web.Request) -> web.Response:
    started = time.monotonic()
    app = request.app
    config = app[CONFIG]
    if request.content_length is not None and request.content_length > config.server.max_body_bytes:
        return _reject(413, "body too large", request)
    if not _signed(request):
        return _reject(403, "bad signature", request)
    q = request.query
    fresh = _fresh(request)
    if fresh is None:
        return _reject(403, "stale timestamp", request, q["timestamp"])
    if config.wechat.mode == "safe" and app[CRYPTO].enabled and q.get("encrypt_type") != "aes":
        return _reject(403, "plaintext refused", request, "safe mode: only encrypted messages are accepted")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _reject(413, "body too large", request)
    try:
        message, key_index = _open(app, request, body)
    except CryptoRejected as exc:
        return _reject(403, "bad encryption", request, str(exc))
    except BadMessage as exc:
        return _reject(400, "bad message", request, str(exc))

    nonce = nonce_for(q, fresh.timestamp, body, config.redis.prefix, fresh.now, config.wechat.timestamp_window_s)
    deadline = started + config.server.reply_deadline_ms / 1000
    try:
        xml, followups = await _reply(app, message, nonce, deadline)
    except Replayed as exc:
        return _reject(403, "replayed", request, str(exc))
    if xml and key_index is not None:
        xml = app[CRYPTO].encrypt(xml, key_index, q["timestamp"], q["nonce"])
    response = web.Response(text=xml, content_type="application/xml" if xml else "text/plain")
    if followups:  # after the passive reply is on the wire, so the follower reads them in order
        await response.prepare(request)
        await response.write_eof()
        sending = app[CUSTOMER_SERVICE].send(message.source, followup_messages(followups), "followup")
        _in_background(app, sending, message.source, "followup")
    return response


def _open(app: web.Application, request: web.Request, body: bytes) -> tuple[WeChatMessage, int | None]:
    """Parse the body; in compatible and safe modes, decrypt `<Encrypt>` and use only what it contains."""
    fields = parse_xml(body)
    q = request.query
    if q.get("encrypt_type", "raw") != "aes":
        return to_message(fields, body.decode()), None
    crypto = app[CRYPTO]
    encrypted = fields.get("Encrypt")
    if not crypto.enabled or not isinstance(encrypted, str):
        raise BadMessage("encrypted request but no EncodingAESKey configured, or no <Encrypt>")
    plain, key_index = crypto.decrypt(q.get("timestamp", ""), q.get("nonce", ""), q.get("msg_signature", ""), encrypted)
    return to_message(parse_xml(plain), plain.decode()), key_index


async def _reply(app: web.Application, message: WeChatMessage, nonce: Nonce, deadline: float) -> tuple[str, tuple]:
    """The plaintext reply for this attempt ("" when the deadline passed or there is nothing to say), and the
    follow-ups only the first attempt sends. Raises `Replayed` (nothing handled) for a reused nonce."""
    key = dedup_key(message)
    replies, senders = app[REPLIES], app[SENDERS]
    state = senders.prefetch(message)
    try:
        found = await replies.claim(key, nonce)
        while isinstance(found, Seen):  # a retry: the first attempt's reply, or its claim once its process died
            xml = await _duplicate(replies, key, found, deadline)
            if xml is not None:
                senders.discard(state)
                return xml, ()
            found = await replies.claim(key, nonce)
        claim: Claim | None = found
    except Replayed:
        senders.discard(state)
        raise
    except redis.RedisError as exc:
        # Redis down: answering beats dropping, though a retry could be handled twice; a signed query reused with
        # another body is still refused if it comes back to this process
        metrics.ERRORS.labels("dedup", type(exc).__name__).inc()
        log.error("dedup unavailable, handling without it", extra={"message_key": key, "error": str(exc)})
        try:
            app[LOCAL_NONCES].check(nonce)
        except Replayed:
            senders.discard(state)
            raise
        claim = None
    senders.attach(message, state)
    senders.record(message)
    try:
        job = app[EXECUTOR].submit(app[INBOUND].answer, message)
        if not await _done_by(job, deadline):
            return await _missed_deadline(app, message, key, job, claim), ()
        outcome = job.result()
    finally:
        if claim is not None:
            replies.release(claim)  # no-op once settled; else the claim lapses and a retry handles the message
    if claim is not None:
        try:  # the reply before the state: a process dying between them leaves a retry the reply to give
            replies.answered(claim, outcome.xml)
        except redis.RedisError as exc:
            metrics.ERRORS.labels("dedup", type(exc).__name__).inc()
    senders.write_back(message)
    return outcome.xml, outcome.followups


async def _done_by(job: asyncio.Future, deadline: float) -> bool:
    """Wait for `job` until `deadline` (monotonic) without cancelling it: True when it finished in time.
    One timer and one callback, where `wait_for(shield(task))` costs a task, two futures and more callbacks."""
    if job.done():
        return True
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    timer = loop.call_later(max(0.0, deadline - time.monotonic()), wake)
    job.add_done_callback(wake)
    try:
        await waiter
    finally:
        timer.cancel()
        job.remove_done_callback(wake)
    return job.done()


async def _duplicate(replies: ReplyCache, key: str, seen: Seen, deadline: float) -> str | None:
    """A retry: the stored reply, nothing (the first attempt went late), or the first attempt's reply when it
    lands before this attempt's deadline; None when the first attempt's claim lapsed (its process died)."""
    metrics.REJECTED.labels("duplicate").inc()
    if seen.state == DONE:
        return seen.xml
    if seen.state == LATE:
        return ""
    try:
        waited = await replies.wait(key, deadline)
    except redis.RedisError as exc:
        metrics.ERRORS.labels("dedup", type(exc).__name__).inc()
        return ""
    if waited is None:
        log.warning("a retry takes over a message whose claim lapsed", extra={"message_key": key})
        return None
    return waited.xml if waited.state == DONE else ""


async def _missed_deadline(
    app: web.Application, message: WeChatMessage, key: str, job: asyncio.Future, claim: Claim | None
) -> str:
    """Answer empty now; the reply follows as a customer-service message. The key is marked late first, so a
    retry answers empty too (the reply is never stored: this attempt decided it goes by customer service)."""
    metrics.ERRORS.labels("deadline", message.type).inc()
    landed = None
    if claim is not None:
        slack = WECHAT_WAIT_S - 0.05 - app[CONFIG].server.reply_deadline_ms / 1000
        try:  # bounded: the deadline rule outranks the bookkeeping
            landed = await asyncio.wait_for(app[REPLIES].gone_late(claim), max(0.02, min(LATE_MARK_S, slack)))
        except (redis.RedisError, TimeoutError) as exc:
            metrics.ERRORS.labels("dedup", type(exc).__name__).inc()
    if landed is not None:  # another attempt took the message over (this one's claim lapsed): it answers
        log.warning("a late reply left to the attempt that took the message over", extra={"message_key": key})
        return landed.xml if landed.state == DONE else ""
    log.warning("reply missed the deadline, will follow as a customer-service message", extra={"message_key": key})
    _deliver_later(app, message, job)
    return ""


def _deliver_later(app: web.Application, message: WeChatMessage, task: asyncio.Future) -> None:
    async def deliver() -> None:
        outcome = await task
        app[SENDERS].write_back(message)
        if isinstance(outcome, Outcome):
            await app[CUSTOMER_SERVICE].send(message.source, late_messages(outcome), "late_reply")

    _in_background(app, deliver(), message.source, "late_reply")


def _in_background(app: web.Application, work: Coroutine[None, None, object], openid: str, purpose: str) -> None:
    """Run `work` after the answer, tracked so the app waits for it on shutdown; its errors are logged here."""

    async def run() -> None:
        try:
            await work
        except Exception:
            metrics.ERRORS.labels(purpose, "unhandled").inc()
            log.exception("customer-service send failed", extra={"openid": openid, "purpose": purpose})

    task = asyncio.ensure_future(run())
    app[LATE_TASKS].add(task)
    task.add_done_callback(app[LATE_TASKS].discard)
