"""The follower simulator: WeChat's side of the callback protocol, for the demo, `wxshop chat` and the tests.

It builds message and event XML as WeChat does, signs the query (and in compatible/safe mode encrypts the body
with wechatpy's crypto, the peer implementation), cuts each attempt off after 5 seconds, tries up to 3 times
with the same message, and checks the reply the way WeChat does: anything WeChat would refuse is shown to the
follower as "该公众号暂时无法提供服务，请稍后再试".
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlencode

import aiohttp
import xmltodict
from wechatpy.crypto import WeChatCrypto

from store.core.clock import Clock

UNAVAILABLE = "该公众号暂时无法提供服务，请稍后再试"
Mode = Literal["plain", "compatible", "safe"]
USER_MESSAGE_TYPES = {"text", "image", "voice", "video", "shortvideo", "location", "link"}
REPLY_TYPES = {"text", "image", "voice", "video", "music", "news", "transfer_customer_service"}
_MSG_IDS = itertools.count(int(time.time() * 1000) * 1000)


class Interactions(Protocol):
    """The emulated WeChat's memory of what followers did (opens customer-service windows)."""

    def follow(self, openid: str) -> None: ...

    def unfollow(self, openid: str) -> None: ...

    def record_interaction(self, openid: str, kind: str, at: Any = None) -> None: ...


@dataclass(frozen=True)
class Account:
    """What WeChat knows about the account it pushes to."""

    token: str
    app_id: str
    original_id: str
    encoding_aes_key: str = ""
    mode: Mode = "plain"


@dataclass(frozen=True)
class Attempt:
    status: int | None
    body: str
    elapsed_s: float
    error: str = ""


@dataclass
class Delivery:
    """One message as WeChat delivered it: every attempt, the accepted reply, and what the follower saw."""

    xml: str
    attempts: list[Attempt] = field(default_factory=list)
    reply: dict[str, Any] | None = None
    shown: str = ""
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.shown == UNAVAILABLE


class FollowerSimulator:
    def __init__(
        self,
        callback_url: str,
        account: Account,
        session: aiohttp.ClientSession,
        clock: Clock,
        *,
        timeout_s: float = 5.0,
        attempts: int = 3,
        world: Interactions | None = None,
    ) -> None:
        self.callback_url = callback_url
        self.account = account
        self.session = session
        self.clock = clock
        self.timeout_s = timeout_s
        self.max_attempts = attempts
        self.world = world
        self.crypto = (
            WeChatCrypto(account.token, account.encoding_aes_key, account.app_id) if account.mode != "plain" else None
        )

    # -- what a follower does -------------------------------------------------------------------------------
    async def send_text(self, openid: str, content: str) -> Delivery:
        return await self.send(openid, {"MsgType": "text", "Content": content}, kind="message")

    async def send_event(self, openid: str, event: str, key: str | None = None, **extra: Any) -> Delivery:
        fields: dict[str, Any] = {"MsgType": "event", "Event": event}
        if key is not None:
            fields["EventKey"] = key
        fields.update(extra)
        kind = {"subscribe": "subscribe", "SCAN": "scan", "CLICK": "click"}.get(event)
        if event in ("scancode_push", "scancode_waitmsg"):
            kind = "click"
        return await self.send(openid, fields, kind=kind)

    async def follow(self, openid: str, scene: str | None = None) -> Delivery:
        if self.world is not None:
            self.world.follow(openid)
        extra = {"Ticket": f"TICKET_{scene}"} if scene else {}
        return await self.send_event(openid, "subscribe", f"qrscene_{scene}" if scene else "", **extra)

    async def unfollow(self, openid: str) -> Delivery:
        if self.world is not None:
            self.world.unfollow(openid)
        return await self.send_event(openid, "unsubscribe", "")

    async def click(self, openid: str, key: str) -> Delivery:
        return await self.send_event(openid, "CLICK", key)

    # -- the protocol ---------------------------------------------------------------------------------------
    def build_xml(self, openid: str, fields: dict[str, Any]) -> str:
        """Message XML in WeChat's field order; user messages get a fresh MsgId."""
        body: dict[str, Any] = {
            "ToUserName": self.account.original_id,
            "FromUserName": openid,
            "CreateTime": int(self.clock.now().timestamp()),
        }
        body.update(fields)
        if fields.get("MsgType") != "event" and "MsgId" not in body:
            body["MsgId"] = next(_MSG_IDS)
        return render_xml(body)

    async def send(self, openid: str, fields: dict[str, Any], kind: str | None = "message") -> Delivery:
        xml = self.build_xml(openid, fields)
        if self.world is not None and kind is not None:
            self.world.record_interaction(openid, kind)
        return await self.deliver(xml, openid, is_user_message=fields.get("MsgType") in USER_MESSAGE_TYPES)

    async def deliver(self, xml: str, openid: str, *, is_user_message: bool = True) -> Delivery:
        """POST the same message up to `attempts` times, each cut off after `timeout_s`, as WeChat does."""
        delivery = Delivery(xml=xml)
        for _ in range(self.max_attempts):
            attempt, query = await self._attempt(xml, openid)
            delivery.attempts.append(attempt)
            if attempt.status is None:
                continue  # timed out or connection failed: WeChat tries again
            verdict = self.accept(attempt, query, openid, is_user_message)
            delivery.reply, delivery.shown, delivery.error = verdict
            return delivery
        delivery.shown, delivery.error = UNAVAILABLE, "no answer within the deadline"
        return delivery

    async def _attempt(self, xml: str, openid: str) -> tuple[Attempt, dict[str, str]]:
        query, body = self.signed(xml, openid)
        return await self.post(query, body), query

    def signed(self, xml: str, openid: str) -> tuple[dict[str, str], str]:
        """The query and body of one attempt: signed now by the clock, with a fresh nonce (and encrypted in
        compatible and safe modes)."""
        timestamp, nonce = str(int(self.clock.now().timestamp())), secrets.token_hex(5)
        query = {"signature": sign(self.account.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
        query["openid"] = openid
        body = xml
        if self.crypto is not None:
            encrypted = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
            query.update(encrypt_type="aes", msg_signature=encrypted["MsgSignature"])
            if self.account.mode == "safe":
                body = render_xml({"ToUserName": self.account.original_id, "Encrypt": encrypted["Encrypt"]})
            else:
                plain = xmltodict.parse(xml)["xml"]
                body = render_xml({**plain, "Encrypt": encrypted["Encrypt"]})
        return query, body

    async def post(self, query: dict[str, str], body: str) -> Attempt:
        """One POST of a signed request, cut off after `timeout_s`."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self.session.post(
                    f"{self.callback_url}?{urlencode(query)}",
                    data=body.encode(),
                    headers={"Content-Type": "text/xml"},
                ) as response:
                    text = await response.text()
                    return Attempt(response.status, text, time.monotonic() - started)
        except (TimeoutError, aiohttp.ClientError) as exc:
            return Attempt(None, "", time.monotonic() - started, type(exc).__name__)

    def accept(
        self, attempt: Attempt, query: dict[str, str], openid: str, is_user_message: bool
    ) -> tuple[dict[str, Any] | None, str, str]:
        """WeChat's verdict on a reply: (parsed reply, what the follower sees, why it was refused)."""
        if attempt.status != 200:
            return None, UNAVAILABLE, f"HTTP {attempt.status}"
        text = attempt.body
        if text == "" or text == "success":
            return None, "", ""
        try:
            reply = xmltodict.parse(text)["xml"]
            if "Encrypt" in reply:
                if self.crypto is None:
                    return None, UNAVAILABLE, "encrypted reply in plaintext mode"
                plain = self.crypto.decrypt_message(text, reply["MsgSignature"], reply["TimeStamp"], reply["Nonce"])
                reply = xmltodict.parse(plain)["xml"]
            elif self.account.mode == "safe":
                return None, UNAVAILABLE, "plaintext reply in safe mode"
        except Exception as exc:  # anything WeChat cannot read is an invalid reply
            return None, UNAVAILABLE, f"unreadable reply: {type(exc).__name__}"
        problem = reply_problem(reply, openid, self.account.original_id, is_user_message)
        if problem:
            return reply, UNAVAILABLE, problem
        return reply, shown_text(reply), ""


def sign(token: str, *parts: str) -> str:
    return hashlib.sha1("".join(sorted([token, *parts])).encode()).hexdigest()


def render_xml(fields: dict[str, Any]) -> str:
    """`<xml>` with CDATA strings and bare numbers, as WeChat writes it."""
    parts = ["<xml>"]
    for name, value in fields.items():
        if isinstance(value, dict):
            parts.append(f"<{name}>{render_xml(value)[5:-6]}</{name}>")
        elif isinstance(value, int):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            text = str(value).replace("]]>", "]]]]><![CDATA[>")
            parts.append(f"<{name}><![CDATA[{text}]]></{name}>")
    parts.append("</xml>")
    return "".join(parts)


def reply_problem(reply: dict[str, Any], openid: str, original_id: str, is_user_message: bool) -> str:
    """Why WeChat would refuse this reply, or "" when it is fine."""
    if reply.get("ToUserName") != openid:
        return "ToUserName is not the follower"
    if reply.get("FromUserName") != original_id:
        return "FromUserName is not the account"
    kind = reply.get("MsgType")
    if kind not in REPLY_TYPES:
        return f"unknown MsgType {kind!r}"
    if kind == "text" and not (reply.get("Content") or "").strip():
        return "empty text Content"
    if kind == "news":
        items = (reply.get("Articles") or {}).get("item") or []
        items = items if isinstance(items, list) else [items]
        count = int(reply.get("ArticleCount") or 0)
        if count != len(items) or count == 0:
            return "ArticleCount does not match the articles"
        if count > (1 if is_user_message else 8):
            return f"{count} articles where WeChat allows {1 if is_user_message else 8}"
    return ""


def shown_text(reply: dict[str, Any]) -> str:
    """What the chat shows for an accepted reply."""
    kind = reply.get("MsgType")
    if kind == "text":
        return reply.get("Content") or ""
    if kind == "news":
        items = reply["Articles"]["item"]
        items = items if isinstance(items, list) else [items]
        return "\n".join(f"[图文] {item.get('Title') or ''}" for item in items)
    if kind == "transfer_customer_service":
        return ""
    return f"[{kind}]"
