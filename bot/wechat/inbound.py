"""The framework-free core of the callback: XML in, reply out, over WeRoBot's routing table.

We call WeRoBot's parsing, handler registry and reply classes, but not `get_reply`: it swallows handler errors
into an empty body and misroutes events it does not know. Here a handler's exception is logged with the message
id, counted, and answered politely; unknown events reach `unknown_event` handlers; replies are kept within
WeChat's limits and made XML-safe.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import xmltodict
from werobot.messages.events import UnknownEvent
from werobot.messages.messages import UnknownMessage, WeChatMessage
from werobot.parser import process_message
from werobot.replies import (
    ArticlesReply,
    TextReply,
    TransferCustomerServiceReply,
    WeChatReply,
    process_function_reply,
)
from werobot.robot import BaseRoBot

from bot.process import metrics
from dialogs.replies import Answer

log = logging.getLogger("wxshop.inbound")

SORRY = "抱歉，系统开小差了，请稍后再试。"
USER_MESSAGE_TYPES = frozenset({"text", "image", "voice", "video", "shortvideo", "location", "link"})
REQUIRED_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_DECLARATION = re.compile(rb"<!(?!\[CDATA\[)")


class BadMessage(Exception):
    """The body is not a message we can read; the message says why (for the log, not the sender)."""


def parse_xml(body: bytes) -> dict:
    """Parse untrusted XML. DTDs and entity declarations are refused before the parser sees them, so entity
    expansion (billion laughs) and external entities cannot happen.

    The result is what `xmltodict.parse` gives (the shape WeRoBot's message classes read). ElementTree's C
    builder does the common case, WeChat's flat or lightly nested elements, in a third of the time; anything
    xmltodict would shape differently (attributes, mixed content, namespaces) goes to xmltodict itself."""
    if _DECLARATION.search(body):
        raise BadMessage("XML declarations (DTD/ENTITY) are not allowed")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadMessage("body is not UTF-8") from None
    try:
        parser = ElementTree.XMLParser(encoding="utf-8")
        parser.feed(body)
        element = parser.close()
        if element.tag != "xml":
            raise _Unusual
        root = _shape(element)
    except (ElementTree.ParseError, _Unusual, RecursionError):
        root = _parse_with_xmltodict(text)
    if not isinstance(root, dict):
        raise BadMessage("root element must be <xml>")
    return root


class _Unusual(Exception):
    """The element needs xmltodict's own shaping."""


def _shape(element: ElementTree.Element) -> dict | str | None:
    """xmltodict's shape for an element without attributes or mixed content: stripped text (None when empty),
    or a dict of children, repeated names collected into lists."""
    if element.attrib or "{" in element.tag:
        raise _Unusual
    if not len(element):
        text = element.text
        return (text.strip() or None) if text else None
    if element.text and element.text.strip():
        raise _Unusual
    shaped: dict = {}
    for child in element:
        if child.tail and child.tail.strip():
            raise _Unusual
        value = _shape(child)
        tag = child.tag
        if tag not in shaped:
            shaped[tag] = value
        elif isinstance(shaped[tag], list):
            shaped[tag].append(value)
        else:
            shaped[tag] = [shaped[tag], value]
    return shaped


def _parse_with_xmltodict(text: str) -> dict | None:
    try:
        document = xmltodict.parse(text, disable_entities=True)
    except Exception as exc:  # expat raises several types for malformed input
        raise BadMessage(f"malformed XML: {exc}") from None
    return document.get("xml") if isinstance(document, dict) else None


def to_message(fields: dict, raw: str) -> WeChatMessage:
    missing = [name for name in REQUIRED_FIELDS if not isinstance(fields.get(name), str) or not fields[name]]
    if missing:
        raise BadMessage(f"missing fields: {', '.join(missing)}")
    if not fields["CreateTime"].isdigit():
        raise BadMessage("CreateTime is not a number")
    if fields["MsgType"] == "event" and not isinstance(fields.get("Event"), str):
        raise BadMessage("event without Event")
    fields = dict(fields, raw=raw)
    try:
        return process_message(fields)
    except Exception as exc:  # WeRoBot's field converters choke on odd values (e.g. a non-numeric MsgId)
        raise BadMessage(f"unreadable message: {exc}") from None


def dedup_key(message: WeChatMessage) -> str:
    """WeChat's advice: MsgId for messages, FromUserName + CreateTime (+ Event, EventKey) for events."""
    fields = message.__dict__
    if fields.get("MsgId"):
        return f"m:{message.source}:{fields['MsgId']}"
    return f"e:{message.source}:{message.time}:{message.type}:{fields.get('EventKey') or ''}"


@dataclass(frozen=True)
class Outcome:
    """What to answer: the rendered plaintext XML ("" = nothing), the reply object (for late delivery) and the
    follow-ups to send as customer-service messages once the answer is out."""

    xml: str
    reply: WeChatReply | None
    followups: tuple[dict[str, Any], ...] = ()


class Inbound:
    def __init__(self, robot: BaseRoBot) -> None:
        self.robot = robot

    def handlers_for(self, message: WeChatMessage) -> list:
        kind = message.type
        if isinstance(message, UnknownEvent):
            kind = "unknown_event"
        elif isinstance(message, UnknownMessage):
            kind = "unknown"
        return self.robot.get_handlers(kind)

    def answer(self, message: WeChatMessage) -> Outcome:
        """Run the first handler that replies; never raises."""
        reply, followups = None, ()
        for handler, _ in self.handlers_for(message):
            try:
                result = handler(message)
                if isinstance(result, Answer):  # the engine decided, silence included: no other handler runs
                    reply, followups = self._from_answer(result, message), result.followups
                    break
                if result:
                    reply = process_function_reply(result, message=message)
                    break
            except Exception:
                metrics.ERRORS.labels("handler", type(message).__name__).inc()
                log.exception(
                    "handler failed",
                    extra={"handler": getattr(handler, "__name__", "?"), "message_key": dedup_key(message)},
                )
                reply = TextReply(message=message, content=SORRY) if self.is_user_message(message) else None
                break
        if reply is None:
            return Outcome("", None, followups)
        return Outcome(self.render(reply, message), reply, followups)

    def _from_answer(self, answer: Answer, message: WeChatMessage) -> WeChatReply | None:
        if answer.transfer and self.is_user_message(message):
            return TransferCustomerServiceReply(message=message)
        return process_function_reply(answer.reply, message=message) if answer.reply else None

    @staticmethod
    def is_user_message(message: WeChatMessage) -> bool:
        return message.type in USER_MESSAGE_TYPES or isinstance(message, UnknownMessage)

    def render(self, reply: WeChatReply, message: WeChatMessage) -> str:
        """Apply WeChat's reply limits, then render: non-empty text, 1 article for messages (8 for events)."""
        if isinstance(reply, TextReply):
            content = strip_control(reply._args.get("content", ""))
            if not content.strip():
                return ""
            reply = TextReply(**{**reply._args, "content": cdata_safe(content)})
        elif isinstance(reply, ArticlesReply):
            limit = 1 if self.is_user_message(message) else 8
            articles = reply._articles[:limit]
            if not articles:
                return ""
            reply = ArticlesReply(**reply._args)
            for article in articles:
                reply.add_article(
                    article._replace(**{k: cdata_safe(v) for k, v in article._asdict().items() if isinstance(v, str)})
                )
        return reply.render().strip()


def strip_control(text: object) -> str:
    """Drop the control characters XML 1.0 forbids (they make WeChat refuse the whole reply)."""
    return _CONTROL.sub("", str(text))


def cdata_safe(text: str) -> str:
    """Text that survives inside a CDATA section: its terminator is split across two sections."""
    return strip_control(text).replace("]]>", "]]]]><![CDATA[>")
