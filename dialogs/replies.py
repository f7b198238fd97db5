"""Turning reply payloads (what operators configure, what flows produce) into what WeChat receives.

A passive reply is one message; an `Answer` may carry follow-ups, which go out as customer-service messages
right after the passive reply is sent (WeChat allows one passive message per inbound message).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from dialogs.keyword_coupon_answers import Recipient, coupon_text
from store.catalog.products import product_with_skus


@dataclass(frozen=True)
class Text:
    content: str


@dataclass(frozen=True)
class Article:
    title: str
    description: str = ""
    image: str = ""
    url: str = ""


@dataclass(frozen=True)
class News:
    """Article cards; a passive reply to a message shows the first, an event's up to eight (WECHAT.md)."""

    articles: tuple[Article, ...]


Message = Text | News
ReplyLike = Message | str | list[tuple[str, str, str, str]] | None
"""What a flow or an answer may give: a message, or its shorthand (a str for a text, (title, description,
image, url) tuples for cards), made a `Message` by `message_of` when an `Answer` is built."""


def message_of(value: object) -> Message | None:
    """The one conversion of reply shorthands (and operator payload dicts) into typed messages."""
    if value is None or isinstance(value, Text | News):
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        return Text(value) if value else None
    if isinstance(value, dict):
        if value.get("type") == "news":
            card = Article(value["title"], value.get("description", ""), value.get("image", ""), value["url"])
            return News((card,))
        return Text(str(value["content"])) if value.get("content") else None
    if isinstance(value, list | tuple) and value and all(isinstance(a, tuple) and len(a) == 4 for a in value):
        return News(tuple(Article(*a) for a in value))
    raise TypeError(f"not a reply: {type(value).__name__}")


@dataclass(frozen=True)
class Answer:
    """What the bot says to one inbound message: one passive reply, then follow-ups (customer-service messages
    sent right after it), or a hand-over to a human agent. Shorthands given here become typed messages."""

    reply: Message | None = None
    followups: tuple[Message, ...] = field(default=())
    transfer: bool = False  # hand the conversation to a human agent (transfer_customer_service)
    agent: str = ""  # with `transfer`: the agent account (KfAccount) it goes to, "" for any agent

    def __post_init__(self) -> None:
        object.__setattr__(self, "reply", message_of(self.reply))
        kept = (message_of(followup) for followup in self.followups)
        object.__setattr__(self, "followups", tuple(message for message in kept if message is not None))

    @property
    def silent(self) -> bool:
        return self.reply is None and not self.followups and not self.transfer

    @property
    def text(self) -> str:
        """The passive reply's text ("" when it is not a text)."""
        return self.reply.content if isinstance(self.reply, Text) else ""


def yuan(fen: int) -> str:
    """¥ with two decimals only when needed: 19900 → "199", 19950 → "199.50"."""
    whole, cents = divmod(fen, 100)
    return f"{whole}" if cents == 0 else f"{whole}.{cents:02d}"


class ReplyRenderer:
    def __init__(self, public_url: str) -> None:
        self.public_url = public_url.rstrip("/")

    def product_card(self, code: str) -> Message:
        view = product_with_skus(code)
        if view is None:
            return Text("这件商品已下架，看看别的吧～回复“逛商城”。")
        product, prices = view.product, view.price_range
        if prices is None:
            price = "暂无在售规格"
        elif prices[0] == prices[1]:
            price = f"¥{yuan(prices[0])}"
        else:
            price = f"¥{yuan(prices[0])} - ¥{yuan(prices[1])}"
        status = "已售罄" if view.sold_out else "有货"
        description = f"{price} · {status}\n{product.description[:60]}".strip()
        url = f"{self.public_url}/p/{product.code}"
        return News((Article(product.title, description, product.image, url),))

    def payload(self, payload: dict[str, Any], to: Recipient | None = None) -> Message | None:
        """An operator's reply payload (keyword rules, standing replies) as a message; a coupon reply gives `to`
        the coupon (once per rule), without `to` it only names it."""
        kind = payload.get("type", "text")
        if kind == "product":
            return self.product_card(payload["spu"])
        if kind == "coupon":
            return Text(coupon_text(payload["code"], to))
        if kind in ("text", "news"):
            return message_of(payload)
        return None

    def answer(
        self, payloads: tuple[dict[str, Any], ...], mode: str, rng: random.Random, to: Recipient | None = None
    ) -> Answer:
        """`random`: one of the replies; `all`: the first as the passive reply, the rest as follow-ups."""
        if not payloads:
            return Answer()
        if mode == "random":
            return Answer(self.payload(rng.choice(payloads), to))
        rest = (self.payload(payload, to) for payload in payloads[1:])
        return Answer(self.payload(payloads[0], to), tuple(message for message in rest if message is not None))
