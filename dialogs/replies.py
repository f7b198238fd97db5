"""Turning reply payloads (what operators configure, what flows produce) into what WeChat receives.

A passive reply is one message; an `Answer` may carry follow-ups, which go out as customer-service messages
right after the passive reply is sent (WeChat allows one passive message per inbound message).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from store.catalog.products import product_with_skus

ReplyLike = Any  # str | list of (title, description, image, url) | a WeRoBot reply


@dataclass(frozen=True)
class Answer:
    """What the bot says to one inbound message."""

    reply: ReplyLike = None
    followups: tuple[dict[str, Any], ...] = field(default=())
    transfer: bool = False  # hand the conversation to a human agent (transfer_customer_service)

    @property
    def silent(self) -> bool:
        return self.reply is None and not self.followups and not self.transfer


def yuan(fen: int) -> str:
    """¥ with two decimals only when needed: 19900 → "199", 19950 → "199.50"."""
    whole, cents = divmod(fen, 100)
    return f"{whole}" if cents == 0 else f"{whole}.{cents:02d}"


class ReplyRenderer:
    def __init__(self, public_url: str) -> None:
        self.public_url = public_url.rstrip("/")

    def product_card(self, code: str) -> ReplyLike:
        view = product_with_skus(code)
        if view is None:
            return "这件商品已下架，看看别的吧～回复“逛商城”。"
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
        return [(product.title, description, product.image, url)]

    def payload(self, payload: dict[str, Any]) -> ReplyLike:
        kind = payload.get("type", "text")
        if kind == "text":
            return payload["content"]
        if kind == "news":
            return [(payload["title"], payload.get("description", ""), payload.get("image", ""), payload["url"])]
        if kind == "product":
            return self.product_card(payload["spu"])
        if kind == "coupon":
            return f"送您一张优惠券：{payload['code']}。回复“我的优惠券”查看。"
        return None

    def answer(self, payloads: tuple[dict[str, Any], ...], mode: str, rng: random.Random) -> Answer:
        """`random`: one of the replies; `all`: the first as the passive reply, the rest as follow-ups."""
        if not payloads:
            return Answer()
        if mode == "random":
            return Answer(self.payload(rng.choice(payloads)))
        return Answer(self.payload(payloads[0]), tuple(payloads[1:]))


def followup_of(reply: ReplyLike) -> dict[str, Any] | None:
    """A passive reply re-expressed as a follow-up payload (for replies that must travel after another)."""
    if isinstance(reply, str):
        return {"type": "text", "content": reply}
    if isinstance(reply, list) and reply and len(reply[0]) == 4:
        title, description, image, url = reply[0]
        return {"type": "news", "title": title, "description": description, "image": image, "url": url}
    return None
