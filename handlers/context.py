"""What every handler receives: the message and one `HandlerContext`, the same typed signature for all.

Handlers cannot import `bot`; what they need from the outside world is handed in by `bot` when it assembles the
app: the engine (a pure turn) and the `StatePort` that loads the follower's state before the turn and keeps its
result after. A handler never sends customer-service messages itself: what it has to say after its reply goes
in the answer's follow-ups, which the gateway sends after the reply, each taking one message from the follower's
customer-service window (`bot.wechat.customer_service`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from werobot.messages.messages import WeChatMessage
from werobot.robot import BaseRoBot

from dialogs.engine import Engine, Inbound
from dialogs.replies import Answer, ReplyLike
from dialogs.state import Snapshot, TurnResult
from store.core.clock import Clock

HandlerResult = Answer | ReplyLike
"""An engine's `Answer` (silence included), or a reply shorthand (`dialogs.replies.ReplyLike`)."""
Command = tuple[str | bytes | int | float, ...]


@dataclass
class StateIO:
    """The follower's state as the gateway read it in its dedup round trip, and the writes the turn leaves for
    the gateway to send on that same connection once the handler is done (before the reply goes out, so the
    follower's next message reads them): the handler thread makes no Redis round trip for the conversation."""

    values: Sequence[bytes | None]
    writes: list[Command] = field(default_factory=list)


class StatePort(Protocol):
    """Where the follower's conversation state lives (`bot.chat.dialog_store.RedisDialogStore`)."""

    def load(self, openid: str, now: datetime, io: StateIO | None = None) -> Snapshot: ...

    def save(self, snap: Snapshot, result: TurnResult, now: datetime, io: StateIO | None = None) -> None: ...

    def end_human(self, openid: str) -> None: ...

    def forget(self, openid: str) -> None: ...


@dataclass(frozen=True)
class HandlerContext:
    clock: Clock
    engine: Engine
    state: StatePort
    shop_name: str
    stateful: set[str] = field(default_factory=set)  # message types whose handler takes a turn (reads the state)


Handler = Callable[[WeChatMessage, HandlerContext], HandlerResult]


def bind(handler: Handler, ctx: HandlerContext) -> Callable[[WeChatMessage], HandlerResult]:
    """Give WeRoBot a one-argument callable, so it never inspects our signature or passes a session."""

    def call(message: WeChatMessage) -> HandlerResult:
        return handler(message, ctx)

    call.__name__ = getattr(handler, "__name__", "handler")
    call.__qualname__ = call.__name__
    return call


def add(robot: BaseRoBot, ctx: HandlerContext, handler: Handler, types: Iterable[str], turns: bool = False) -> None:
    """Register `handler` for message `types`; `turns`: it takes a turn of the conversation, so the gateway reads
    the sender's state in its dedup round trip for those types."""
    for kind in types:
        robot.add_handler(bind(handler, ctx), type=kind)
        if turns:
            ctx.stateful.add(kind)


STATE_IO = "_state_io"  # set by the gateway on messages whose handler takes a turn


def state_io(message: WeChatMessage) -> StateIO | None:
    """The follower's state as the gateway read it, where the turn leaves its writes; None when it did not."""
    return message.__dict__.get(STATE_IO)


def take_turn(message: WeChatMessage, ctx: HandlerContext, inbound: Inbound) -> Answer | None:
    """Load the sender's state, run the engine's pure turn, keep what it changed; the answer (None: a photo no
    flow takes, nothing changed)."""
    now = ctx.clock.now()
    io = state_io(message)
    snap = ctx.state.load(message.source, now, io)
    result = ctx.engine.turn(snap, inbound, now)
    if result is None:
        return None
    ctx.state.save(snap, result, now, io)
    return result.answer


def message_field(message: WeChatMessage, name: str, default: Any = None) -> Any:
    """A raw XML field WeRoBot does not map to an attribute (e.g. MediaId on images)."""
    return message.__dict__.get(name, default)
