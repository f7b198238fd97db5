"""What every handler receives: the message and one `HandlerContext`, the same typed signature for all.

Handlers cannot import `bot`; what they need from the outside world is handed in by `bot` when it assembles the
app. A handler never sends customer-service messages itself: what it has to say after its reply goes in the
answer's follow-ups, which the gateway sends after the reply, each taking one message from the follower's
customer-service window (`bot.wechat.customer_service`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werobot.messages.messages import WeChatMessage

from dialogs.engine import Engine
from dialogs.state import StateIO
from store.core.clock import Clock

ReplyLike = Any  # WeChatReply | str | list of articles | dialogs.replies.Answer | None


@dataclass(frozen=True)
class HandlerContext:
    clock: Clock
    engine: Engine
    shop_name: str


Handler = Callable[[WeChatMessage, HandlerContext], ReplyLike]


def bind(handler: Handler, ctx: HandlerContext) -> Callable[[WeChatMessage], ReplyLike]:
    """Give WeRoBot a one-argument callable, so it never inspects our signature or passes a session."""

    def call(message: WeChatMessage) -> ReplyLike:
        return handler(message, ctx)

    call.__name__ = getattr(handler, "__name__", "handler")
    call.__qualname__ = call.__name__
    return call


STATE_IO = "_state_io"  # set by the gateway on messages whose handler reads the dialog state


def state_io(message: WeChatMessage) -> StateIO | None:
    """The follower's dialog state as the gateway read it in its dedup round trip, where the turn leaves its state
    write for the gateway (`Engine.on_text`'s `io`); None when it did not read it."""
    return message.__dict__.get(STATE_IO)


def message_field(message: WeChatMessage, name: str, default: Any = None) -> Any:
    """A raw XML field WeRoBot does not map to an attribute (e.g. MediaId on images)."""
    return message.__dict__.get(name, default)
