"""Pushes from the emulated WeChat to the account's callback URL, signed and encrypted exactly as WeChat does.

Query: ``signature`` = sha1 of the sorted (token, timestamp, nonce), plus ``timestamp``, ``nonce`` and
``openid``. Safe mode (an EncodingAESKey is set) sends ``<xml><ToUserName/><Encrypt/></xml>`` and adds
``encrypt_type=aes&msg_signature=…``; compatible mode sends the plaintext fields plus ``<Encrypt>``
(WECHAT.md §1.1, §1.6). Encryption is wechatpy's `WeChatCrypto`, the peer library of our receiver.

Delivery follows §1.2: a 5 s deadline per attempt and up to 3 attempts with the same body. Whether WeChat also
retries on an HTTP 5xx is unconfirmed; the sandbox does, so a crashing receiver shows up as repeated pushes.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Literal

import aiohttp
from defusedxml import ElementTree
from wechatpy.crypto import WeChatCrypto

log = logging.getLogger("wxshop.sandbox.push")

PushMode = Literal["plain", "compatible", "safe"]
ATTEMPTS = 3
DEADLINE_S = 5.0


@dataclass(frozen=True)
class SignedPush:
    """What goes on the wire: query parameters and XML body."""

    query: dict[str, str]
    body: str


@dataclass
class PushResult:
    """How one push went: one entry per attempt in `statuses` (None when the attempt failed to connect/timed out)."""

    url: str
    openid: str
    body: str
    statuses: list[int | None] = field(default_factory=list)
    reply: str | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return bool(self.statuses) and self.statuses[-1] == 200


def signature(token: str, *parts: str) -> str:
    """WeChat's signature: sha1 of the lexicographically sorted strings, concatenated."""
    return hashlib.sha1("".join(sorted([token, *parts])).encode("utf-8")).hexdigest()


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def template_finish_xml(original_id: str, openid: str, create_time: int, msgid: int, status: str) -> str:
    """The TEMPLATESENDJOBFINISH event (note WeChat's capital `MsgID`)."""
    return (
        f"<xml><ToUserName>{cdata(original_id)}</ToUserName><FromUserName>{cdata(openid)}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType>{cdata('event')}</MsgType>"
        f"<Event>{cdata('TEMPLATESENDJOBFINISH')}</Event><MsgID>{msgid}</MsgID><Status>{cdata(status)}</Status></xml>"
    )


def sign_push(
    xml: str,
    *,
    token: str,
    openid: str,
    timestamp: int,
    nonce: str,
    mode: PushMode = "plain",
    encoding_aes_key: str = "",
    app_id: str = "",
    original_id: str = "",
) -> SignedPush:
    """Sign (and in compatible/safe mode encrypt) one push body."""
    ts = str(timestamp)
    query = {"signature": signature(token, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": openid}
    if mode == "plain":
        return SignedPush(query, xml)
    if not encoding_aes_key:
        raise ValueError(f"{mode} mode needs an EncodingAESKey")
    envelope = WeChatCrypto(token, encoding_aes_key, app_id).encrypt_message(xml, nonce, ts)
    root = ElementTree.fromstring(envelope)
    encrypt = root.findtext("Encrypt") or ""
    query |= {"encrypt_type": "aes", "msg_signature": root.findtext("MsgSignature") or ""}
    if mode == "safe":
        body = f"<xml><ToUserName>{cdata(original_id)}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt></xml>"
    else:
        body = xml.replace("</xml>", f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>")
    return SignedPush(query, body)


async def deliver(session: aiohttp.ClientSession, url: str, openid: str, push: SignedPush) -> PushResult:
    """POST the push like WeChat: 5 s per attempt, up to 3 attempts while the receiver times out or fails."""
    result = PushResult(url=url, openid=openid, body=push.body)
    timeout = aiohttp.ClientTimeout(total=DEADLINE_S)
    headers = {"Content-Type": "text/xml"}
    for _ in range(ATTEMPTS):
        try:
            async with session.post(
                url, params=push.query, data=push.body.encode(), headers=headers, timeout=timeout
            ) as resp:
                result.statuses.append(resp.status)
                result.reply = await resp.text()
                if resp.status < 500:
                    if resp.status != 200:
                        result.error = f"HTTP {resp.status}"
                    return result
                result.error = f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            result.statuses.append(None)
            result.error = f"{type(exc).__name__}: {exc}"
    log.warning("push to %s for %s failed after %d attempts: %s", url, openid, ATTEMPTS, result.error)
    return result
