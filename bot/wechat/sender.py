"""What the inbound gateway asks Redis about a callback's sender, on the loop's pipelined connection and in the
round trip the dedup claim makes anyway: the sender's dialog state (for the handlers that read it), and, once
the message is claimed, the customer-service window it opens (WECHAT.md §2.2). When the handler is done, the
state writes it left (`handlers.context.StateIO`) goes out on the same connection, ahead of the HTTP reply: the
follower's next message, read on that connection too, sees it.

The handler thread then makes no Redis round trip for the conversation. A failure costs only the shortcut (the
engine reads the state itself), one window (the outbox falls back to a template message), or one state write
(the follower's flow starts over), each logged and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection

import redis
from werobot.messages.messages import WeChatMessage

from bot.process import metrics
from bot.process.redis_pipe import RedisPipe, Reply
from bot.wechat.cs_windows import LoopWindows
from bot.wechat.inbound import is_user_message
from handlers.context import STATE_IO, StateIO
from store.core.clock import Clock
from store.outbox.windows import InteractionKind

log = logging.getLogger("wxshop.gateway")

# Events that open a window; every message a follower sends opens the "message" one.
EVENT_INTERACTIONS: dict[str, InteractionKind] = {
    "click_event": "click", "scancode_push_event": "click", "scancode_waitmsg_event": "click",
    "subscribe_event": "subscribe", "scan_event": "scan",
}  # fmt: skip


def interaction_of(message: WeChatMessage) -> InteractionKind | None:
    if is_user_message(message):
        return "message"
    return EVENT_INTERACTIONS.get(message.type)


class SenderRedis:
    def __init__(
        self,
        pipe: RedisPipe,
        windows: LoopWindows,
        clock: Clock,
        state_keys: Callable[[str], list[str]],
        stateful: Collection[str],
    ) -> None:
        """`stateful`: the message types whose handler takes a turn (`handlers.context.add`)."""
        self.pipe = pipe
        self.windows = windows
        self.clock = clock
        self.state_keys = state_keys
        self.stateful = stateful

    def prefetch(self, message: WeChatMessage) -> asyncio.Future[Reply] | None:
        """Queue the read of the sender's dialog state (call it just before the claim: they share a write)."""
        if message.type not in self.stateful:
            return None
        try:
            return self.pipe.request("MGET", *self.state_keys(message.source))
        except redis.RedisError:
            return None

    @staticmethod
    def attach(message: WeChatMessage, fetched: asyncio.Future[Reply] | None) -> None:
        """Hand the state read to the handler (`handlers.context.state_io`), when it came back whole."""
        if fetched is None:
            return
        if not fetched.done():  # cannot happen once the claim (queued after it) has its reply; never wait for it
            fetched.cancel()
            return
        if fetched.exception() is None and isinstance(fetched.result(), list):
            message.__dict__[STATE_IO] = StateIO(fetched.result())

    @staticmethod
    def discard(fetched: asyncio.Future[Reply] | None) -> None:
        """A retry does not run the handler: drop the read (retrieving its error, if any, so none is logged)."""
        if fetched is None:
            return
        if fetched.done():
            fetched.exception()
        else:
            fetched.cancel()

    def write_back(self, message: WeChatMessage) -> None:
        """Send the state write the handler left (once; call it on the loop as soon as the handler is done)."""
        io: StateIO | None = message.__dict__.get(STATE_IO)
        if io is None or not io.writes:
            return
        writes, io.writes = io.writes, []
        for command in writes:
            try:
                self.pipe.send(*command, on_reply=_check_written)
            except redis.RedisError as exc:
                _check_written(exc)

    def record(self, message: WeChatMessage) -> None:
        """Note the window this message opens, without waiting (once per message: only the claiming attempt)."""
        kind = interaction_of(message)
        if kind is not None:
            self.windows.record(message.source, kind, self.clock.now())


def _check_written(reply: Reply) -> None:
    if isinstance(reply, Exception):
        metrics.ERRORS.labels("dialog_state", type(reply).__name__).inc()
        log.error("dialog state not saved", extra={"error": str(reply)})
