"""The framework-free core of the callback: XML in, reply out, over WeRoBot's routing table.

We call WeRoBot's parsing, handler registry and reply classes, but not `get_reply`: it swallows handler errors
into an empty body and misroutes events it does not know. Here a handler's exception is logged with the message
id, counted, and answered politely; unknown events reach `unknown_event` handlers; replies are kept within
WeChat's limits and made XML-safe.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import xmltodict
from werobot.messages.events import UnknownEvent
from werobot.messages.messages import UnknownMessage, WeChatMessage
from werobot.parser import process_message
from werobot.replies import Article as WeRoBotArticle
from werobot.replies import ArticlesReply, TextReply, TransferCustomerServiceReply
from werobot.robot import BaseRoBot

from bot.process import metrics
from dialogs.replies import Answer, Message, Text

log = logging.getLogger("wxshop.inbound")

SORRY = "抱歉，系统开小差了，请稍后再试。"
USER_MESSAGE_TYPES = frozenset({"text", "image", "voice", "video", "shortvideo", "location", "link"})
DEVICE_PREFIX = "device_"
# The longest text WeChat sends in a message field (a text message's Content is at most 2048 bytes); longer is
# cut before any handler, search or keyword matching sees it.
MAX_TEXT_BYTES = 2048
REQUIRED_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_DECLARATION = re.compile(rb"<!(?!\[CDATA\[)")
# WeChat's deepest push is 5 levels (xml/SendPicsInfo/PicList/item/PicMd5Sum) and its largest a few dozen
# elements (a mass-send result with its copyright-check list): the limits bound a hostile document's parse.
MAX_DEPTH = 16
MAX_ELEMENTS = 512
_CHUNK = 1024  # a refused document costs the event loop one chunk's parse


class BadMessage(Exception):
    """The body is not a message we can read; the message says why (for the log, not the sender)."""


def parse_xml(body: bytes) -> dict:
    """Parse untrusted XML. DTDs and entity declarations are refused before the parser sees them, so entity
    expansion (billion laughs) and external entities cannot happen; a document deeper than `MAX_DEPTH` or with
    more than `MAX_ELEMENTS` elements is refused as soon as the parser gets there (`BadMessage`).

    The result is what `xmltodict.parse` gives (the shape WeRoBot's message classes read). ElementTree's C
    builder does the common case, WeChat's flat or lightly nested elements, in a third of the time; anything
    xmltodict would shape differently (attributes, mixed content, namespaces) goes to xmltodict itself, bounded
    by the same limits."""
    if _DECLARATION.search(body):
        raise BadMessage("XML declarations (DTD/ENTITY) are not allowed")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadMessage("body is not UTF-8") from None
    if body.count(b"<") > MAX_ELEMENTS:  # every element takes a "<": below this the count cannot be over
        element = _parse_counting(body)
    else:
        try:
            parser = ElementTree.XMLParser(encoding="utf-8")
            parser.feed(body)
            element = parser.close()
        except ElementTree.ParseError:
            return _parse_with_xmltodict(text)
    try:
        if element.tag != "xml":
            raise _Unusual
        root = _shape(element, 1)
    except _Unusual:
        return _parse_with_xmltodict(text)
    if not isinstance(root, dict):
        raise BadMessage("root element must be <xml>")
    return root


class _Unusual(Exception):
    """The element needs xmltodict's own shaping."""


def _parse_counting(body: bytes) -> ElementTree.Element:
    """Parse a body with more "<" than `MAX_ELEMENTS` (markup-heavy text in CDATA, or a hostile document) a chunk
    at a time, counting elements and depth as they open: a 700 KB document nested 100,000 deep is refused after
    its first chunk, in well under a millisecond, where parsing it whole holds the event loop for a second."""
    parser = ElementTree.XMLPullParser(events=("start", "end"))
    depth = elements = 0
    root: ElementTree.Element | None = None
    try:
        for offset in range(0, len(body), _CHUNK):
            parser.feed(body[offset : offset + _CHUNK])
            for event, element in parser.read_events():
                if event == "end":
                    depth -= 1
                    continue
                root = element if root is None else root
                depth, elements = depth + 1, elements + 1
                if depth > MAX_DEPTH or elements > MAX_ELEMENTS:
                    raise BadMessage(f"more than {MAX_DEPTH} levels or {MAX_ELEMENTS} elements")
        parser.close()
    except ElementTree.ParseError as exc:
        raise BadMessage(f"malformed XML: {exc}") from None
    if root is None:
        raise BadMessage("no root element")
    return root


def _shape(element: ElementTree.Element, depth: int) -> dict | str | None:
    """xmltodict's shape for an element without attributes or mixed content: stripped text (None when empty),
    or a dict of children, repeated names collected into lists."""
    if element.attrib or "{" in element.tag:
        raise _Unusual
    if not len(element):
        text = element.text
        return (text.strip() or None) if text else None
    if depth >= MAX_DEPTH:
        raise BadMessage(f"more than {MAX_DEPTH} levels")
    if element.text and element.text.strip():
        raise _Unusual
    shaped: dict = {}
    for child in element:
        if child.tail and child.tail.strip():
            raise _Unusual
        value = _shape(child, depth + 1)
        tag = child.tag
        if tag not in shaped:
            shaped[tag] = value
        elif isinstance(shaped[tag], list):
            shaped[tag].append(value)
        else:
            shaped[tag] = [shaped[tag], value]
    return shaped


def _parse_with_xmltodict(text: str) -> dict:
    try:
        document = xmltodict.parse(text, disable_entities=True)
    except Exception as exc:  # expat raises several types for malformed input
        raise BadMessage(f"malformed XML: {exc}") from None
    root = document.get("xml") if isinstance(document, dict) else None
    if not isinstance(root, dict):
        raise BadMessage("root element must be <xml>")
    _check_depth(root)
    return root


def _check_depth(root: dict) -> None:
    """Refuse xmltodict's shape of a document deeper than `MAX_DEPTH` (a dict is an element with children)."""
    level = [root]
    for _ in range(MAX_DEPTH - 1):
        level = [
            child
            for node in level
            for value in node.values()
            for child in (value if isinstance(value, list) else (value,))
            if isinstance(child, dict)
        ]
        if not level:
            return
    raise BadMessage(f"more than {MAX_DEPTH} levels")


def to_message(fields: dict, raw: str) -> WeChatMessage:
    """The WeRoBot message for parsed fields, with every text cut to `MAX_TEXT_BYTES` before anything reads it.
    Refuses (`BadMessage`) only what is not a message at all; an event whose payload WeRoBot cannot read (a
    picture event whose Count disagrees with its list) still comes through, as an event we have no handler for:
    refusing it would only make WeChat deliver it three times."""
    missing = [name for name in REQUIRED_FIELDS if not isinstance(fields.get(name), str) or not fields[name]]
    if missing:
        raise BadMessage(f"missing fields: {', '.join(missing)}")
    if not fields["CreateTime"].isdigit():
        raise BadMessage("CreateTime is not a number")
    is_event = fields["MsgType"].lower() == "event"
    if is_event and not isinstance(fields.get("Event"), str):
        raise BadMessage("event without Event")
    if len(raw) > MAX_TEXT_BYTES // 4:  # shorter, no text in it can be over the limit
        fields = _cut_texts(fields)
    try:
        return process_message(dict(fields, raw=raw))
    except Exception as exc:  # WeRoBot's picture events read their item list as they are built
        if not is_event:
            raise BadMessage(f"unreadable message: {exc}") from None
        log.info("event payload not readable, handled as unknown", extra={"event": fields["Event"], "error": str(exc)})
        return UnknownEvent({**fields, "raw": raw, "type": fields["Event"].lower() + "_event"})


def _cut_texts(value: Any) -> Any:
    """`value` with every string longer than `MAX_TEXT_BYTES` in UTF-8 cut there (at a character boundary)."""
    if isinstance(value, str):
        if len(value) <= MAX_TEXT_BYTES // 4:
            return value
        return value.encode()[:MAX_TEXT_BYTES].decode("utf-8", "ignore")
    if isinstance(value, dict):
        return {name: _cut_texts(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_cut_texts(item) for item in value]
    return value


def is_user_message(message: WeChatMessage) -> bool:
    """What a follower sent (text, image…, or a kind we do not know), as opposed to an event: only these get
    the "unsupported" answer and open a customer-service window. An unknown kind carrying an `Event`, or from
    WeChat's hardware platform (`device_event`, `device_text`: a device's traffic), is an event."""
    if message.type in USER_MESSAGE_TYPES:
        return True
    return (
        isinstance(message, UnknownMessage)
        and "Event" not in message.__dict__
        and not message.type.startswith(DEVICE_PREFIX)
    )


def dedup_key(message: WeChatMessage) -> str:
    """WeChat's advice: MsgId for messages, FromUserName + CreateTime (+ Event, EventKey) for events; an event
    that carries a `MsgID` (template and mass-send results) by that id, since one follower can get several
    results in the same second."""
    fields = message.__dict__
    if fields.get("MsgId"):
        return f"m:{message.source}:{fields['MsgId']}"
    if fields.get("MsgID"):
        return f"e:{message.source}:{message.type}:id:{fields['MsgID']}"
    return f"e:{message.source}:{message.time}:{message.type}:{fields.get('EventKey') or ''}"


@dataclass(frozen=True)
class Outcome:
    """What to answer: the rendered plaintext XML ("" = nothing), the message it carries (for late delivery) and
    the follow-ups to send as customer-service messages once the answer is out."""

    xml: str
    reply: Message | None
    followups: tuple[Message, ...] = ()


KfAccountFor = Callable[[str], str | None]  # openid → the customer-service account a transfer goes to


class Inbound:
    def __init__(self, robot: BaseRoBot, kf_account_for: KfAccountFor | None = None) -> None:
        self.robot = robot
        self.kf_account_for = kf_account_for  # 专属客服: runs on the handler thread, only when a turn transfers

    def handlers_for(self, message: WeChatMessage) -> list:
        kind = message.type
        if isinstance(message, UnknownEvent):
            kind = "unknown_event"
        elif isinstance(message, UnknownMessage):
            kind = "unknown" if is_user_message(message) else "unknown_event"
        return self.robot.get_handlers(kind)

    def answer(self, message: WeChatMessage) -> Outcome:
        """Run the first handler that replies (an `Answer`, silence included, or a reply shorthand); never raises."""
        answer = Answer()
        for handler, _ in self.handlers_for(message):
            try:
                result = handler(message)
                if isinstance(result, Answer) or result:
                    answer = result if isinstance(result, Answer) else Answer(result)
                    break
            except Exception:
                metrics.ERRORS.labels("handler", type(message).__name__).inc()
                log.exception(
                    "handler failed",
                    extra={"handler": getattr(handler, "__name__", "?"), "message_key": dedup_key(message)},
                )
                answer = Answer(SORRY if is_user_message(message) else None)
                break
        if answer.transfer and is_user_message(message):  # WeChat transfers only in reply to a message
            return Outcome(self._transfer(message), None, answer.followups)
        if answer.reply is None:
            return Outcome("", None, answer.followups)
        return Outcome(self.render(answer.reply, message), answer.reply, answer.followups)

    def _transfer(self, message: WeChatMessage) -> str:
        """Hand the conversation to the shared queue, or to the follower's tier's own account (专属客服)."""
        account = None
        if self.kf_account_for is not None:
            try:
                account = self.kf_account_for(message.source)
            except Exception:  # the database away: the shared queue still takes them
                log.exception("kf account lookup failed", extra={"message_key": dedup_key(message)})
        if account:
            log.info("transfer to a tier's own customer-service account", extra={"kf_account": account})
            return TransferCustomerServiceReply(message=message, account=account).render().strip()
        return TransferCustomerServiceReply(message=message).render().strip()

    @staticmethod
    def render(reply: Message, message: WeChatMessage) -> str:
        """The one adapter to WeChat's XML (through WeRoBot's replies), within WeChat's limits: a non-empty text,
        1 article in reply to a message (8 to an event), no character XML forbids ("" when nothing is left)."""
        if isinstance(reply, Text):
            content = strip_control(reply.content)
            if not content.strip():
                return ""
            return TextReply(message=message, content=cdata_safe(content)).render().strip()
        limit = 1 if is_user_message(message) else 8
        articles = reply.articles[:limit]
        if not articles:
            return ""
        rendered = ArticlesReply(message=message)
        for article in articles:
            rendered.add_article(
                WeRoBotArticle(
                    title=cdata_safe(article.title),
                    description=cdata_safe(article.description),
                    img=cdata_safe(article.image),
                    url=cdata_safe(article.url),
                )
            )
        return rendered.render().strip()


def strip_control(text: object) -> str:
    """Drop the control characters XML 1.0 forbids (they make WeChat refuse the whole reply)."""
    return _CONTROL.sub("", str(text))


def cdata_safe(text: str) -> str:
    """Text that survives inside a CDATA section: its terminator is split across two sections."""
    return strip_control(text).replace("]]>", "]]]]><![CDATA[>")
