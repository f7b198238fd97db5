"""The one way the serving process sends customer-service messages outside the outbox: late replies (the handler
missed the reply deadline, WeChat got an empty answer) and the follow-ups after a passive reply.

WeChat counts every customer-service message against the follower's windows (WECHAT.md §2.2: 45047 once the
5 or 3 are used, 45015 outside every window), and the outbox dispatcher spends the same windows from the same
record (`store.outbox.windows`). So each message first takes one from the window, atomically with everyone else's
takes, and only then goes. What the window does not allow is dropped, logged and counted, never sent for WeChat
to refuse: these are conversation, not service notices, so no template may carry them (a reply to the
follower's own message normally finds the window that message opened). A send WeChat refuses anyway closes our
record of the window too, so the outbox turns to template messages. When Redis cannot answer, the window is
unknown rather than closed: the messages go unchecked (counted), as the follower's own message opened a window.

Passive replies (the XML answer to WeChat's POST) take nothing and cost no round trip: WeChat does not count
them. The blocking WeChat calls run off the loop (`run`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from prometheus_client import Counter

from bot.wechat.cs_windows import LoopWindows
from bot.wechat.inbound import Outcome, strip_control
from dialogs.replies import Message, News, Text
from store.core.clock import Clock
from store.core.wechat_errors import OutOfResponseCount, OutOfWindow, WeChatError
from store.outbox.windows import GRANTED, WindowVerdict

log = logging.getLogger("wxshop.customer_service")

SENDS = Counter(
    "wxshop_customer_service_messages_total",
    "Customer-service messages sent outside the outbox, by purpose (late_reply, followup) and outcome",
    ["purpose", "outcome"],
)


@dataclass(frozen=True)
class CsText:
    content: str


@dataclass(frozen=True)
class CsArticle:
    """A news message: WeChat allows one article in a customer-service message (45008 beyond)."""

    title: str
    description: str
    url: str
    image: str


CsMessage = CsText | CsArticle


class CsGateway(Protocol):
    """The slice of the WeChat gateway this needs (blocking)."""

    def send_text(self, openid: str, content: str) -> None: ...

    def send_article(self, openid: str, title: str, description: str, url: str, image: str) -> None: ...


Runner = Callable[..., Awaitable[Any]]  # runs a blocking call off the loop: run(fn, *args)


class CustomerService:
    def __init__(self, windows: LoopWindows, wechat: CsGateway, clock: Clock, run: Runner) -> None:
        self.windows = windows
        self.wechat = wechat
        self.clock = clock
        self.run = run

    async def send(self, openid: str, messages: Sequence[CsMessage], purpose: str) -> int:
        """Send `messages` in order, each taking one message from the follower's window first; returns how many
        went. The first one refused (by the window or by WeChat) or failed ends the send: the rest would read
        out of order."""
        if not messages:
            return 0
        try:
            verdicts: list[WindowVerdict | None] = [*await self.windows.take(openid, len(messages), self.clock.now())]
        except redis.RedisError as exc:
            log.warning("customer-service window unknown, sending unchecked",
                        extra={"openid": openid, "purpose": purpose, "error": str(exc)})  # fmt: skip
            verdicts = [None] * len(messages)
        for sent, (message, verdict) in enumerate(zip(messages, verdicts, strict=True)):
            if verdict is not None and verdict not in GRANTED:
                why = "no customer-service window" if verdict == "closed" else "customer-service window used up"
                self._drop(openid, purpose, f"dropped_{verdict}", why, len(messages) - sent)
                return sent
            try:
                await self.run(self._deliver, openid, message)
            except (OutOfWindow, OutOfResponseCount) as exc:
                await self._spend(openid)
                self._drop(openid, purpose, f"refused_{exc.errcode}", str(exc), len(messages) - sent)
                return sent
            except WeChatError as exc:
                self._drop(openid, purpose, "failed", str(exc), len(messages) - sent)
                return sent
            SENDS.labels(purpose, "sent" if verdict is not None else "unchecked").inc()
        return len(messages)

    def _deliver(self, openid: str, message: CsMessage) -> None:
        if isinstance(message, CsText):
            self.wechat.send_text(openid, message.content)
        else:
            self.wechat.send_article(openid, message.title, message.description, message.url, message.image)

    async def _spend(self, openid: str) -> None:
        try:
            await self.windows.spend(openid)
        except redis.RedisError as exc:
            log.warning("customer-service window not closed", extra={"openid": openid, "error": str(exc)})

    @staticmethod
    def _drop(openid: str, purpose: str, outcome: str, why: str, count: int) -> None:
        SENDS.labels(purpose, outcome).inc(count)
        log.warning("customer-service messages not sent",
                    extra={"openid": openid, "purpose": purpose, "reason": why, "count": count})  # fmt: skip


def late_messages(outcome: Outcome) -> list[CsMessage]:
    """A passive reply that missed its deadline (and its follow-ups), as the customer-service messages that
    carry it late."""
    first = (outcome.reply,) if outcome.reply is not None and outcome.xml else ()
    return followup_messages((*first, *outcome.followups))


def followup_messages(messages: Sequence[Message]) -> list[CsMessage]:
    """Messages as customer-service messages: a text as it is, cards as their first article (one per message)."""
    sent: list[CsMessage] = []
    for message in messages:
        if isinstance(message, News) and message.articles:
            card = message.articles[0]
            sent.append(CsArticle(card.title, card.description, card.url, card.image))
        elif isinstance(message, Text) and message.content:
            sent.append(CsText(strip_control(message.content)))
    return sent
