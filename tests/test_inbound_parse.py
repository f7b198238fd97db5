"""`parse_xml` gives exactly what xmltodict gives (the shape WeRoBot reads) for every message and event we know,
and for the odd documents that take its fallback."""

from __future__ import annotations

import pytest
import xmltodict

from bot.sandbox.follower import render_xml
from bot.wechat.inbound import MAX_DEPTH, MAX_TEXT_BYTES, BadMessage, parse_xml, to_message
from tests.test_gateway import EVENTS, MESSAGES
from tests.test_gateway_hostile import HOSTILE

BASE = {"ToUserName": "gh_shop", "FromUserName": "o_user", "CreateTime": 1714037059}

ODD = {
    "whitespace and cdata": b"<xml><A> x </A><B/><C></C><D>  </D><E><![CDATA[ y\n]]></E></xml>",
    "repeated and nested": b"<xml><R>1</R><R>2</R><R><S>3</S><S>4</S></R><T><U><V>deep</V></U></T></xml>",
    "attribute on the root": b"<xml a='1'><A>x</A></xml>",
    "attribute on a child": b"<xml><A b='2'>x</A><A>y</A></xml>",
    "mixed content": b"<xml>t<A>x</A>u</xml>",
    "undeclared prefix": b"<xml><p:A>x</p:A></xml>",
    "default namespace": b"<xml xmlns='urn:x'><A>x</A></xml>",
    "declared encoding is ignored": "<?xml version='1.0' encoding='GBK'?><xml><A>你</A></xml>".encode(),
    "references and a processing instruction": b"<xml><A>&amp;&lt;&#20320;</A><?pi x?></xml>",
    "surrounding whitespace": b"  <xml><A>1</A></xml>\n",
}


def xmltodict_root(body: bytes) -> dict | str:
    try:
        document = xmltodict.parse(body.decode("utf-8"), disable_entities=True)
    except Exception:
        return "refused"
    root = document.get("xml") if isinstance(document, dict) else None
    return root if isinstance(root, dict) else "refused"


def ours(body: bytes) -> dict | str:
    try:
        return parse_xml(body)
    except BadMessage:
        return "refused"


def documents() -> dict[str, bytes]:
    docs = {f"message {k}": render_xml({**BASE, "MsgType": k, **f, "MsgId": 1}).encode() for k, f in MESSAGES.items()}
    docs |= {
        f"event {k}": render_xml({**BASE, "MsgType": "event", "Event": k, **f}).encode() for k, f in EVENTS.items()
    }
    return docs | ODD | {f"hostile {k}": v for k, v in HOSTILE.items() if b"<!DOCTYPE" not in v}


@pytest.mark.parametrize("name", sorted(documents()))
def test_same_shape_as_xmltodict(name: str) -> None:
    body = documents()[name]
    assert ours(body) == xmltodict_root(body)


@pytest.mark.parametrize("name", sorted(k for k, v in HOSTILE.items() if b"<!DOCTYPE" in v))
def test_declarations_are_refused_before_parsing(name: str) -> None:
    with pytest.raises(BadMessage, match="declarations"):
        parse_xml(HOSTILE[name])


def nested(levels: int, inner: bytes = b"x") -> bytes:
    """An `<xml>` document `levels` elements deep (the root counted)."""
    return b"<xml><B>1</B>" + b"<a>" * (levels - 1) + inner + b"</a>" * (levels - 1) + b"</xml>"


@pytest.mark.parametrize("levels", [3000, 100_000])
def test_deep_nesting_is_refused(levels: int) -> None:
    with pytest.raises(BadMessage, match="levels"):
        parse_xml(nested(levels))


def test_many_elements_are_refused() -> None:
    with pytest.raises(BadMessage, match="elements"):
        parse_xml(b"<xml><A>" + b"<a/>" * 200_000 + b"</A></xml>")


@pytest.mark.parametrize("markup", [b"", b"<![CDATA[" + b"<" * 600 + b"]]>"], ids=["few <", "many < in text"])
def test_the_depth_limit_is_the_same_on_both_paths(markup: bytes) -> None:
    """Up to `MAX_DEPTH` levels is a document; one more is refused, whether or not the body holds so many "<"
    that it is parsed counting as it goes."""
    deepest = parse_xml(nested(MAX_DEPTH, markup))
    assert deepest["B"] == "1" and deepest["a"] is not None
    with pytest.raises(BadMessage, match="levels"):
        parse_xml(nested(MAX_DEPTH + 1, markup))


def test_the_depth_limit_holds_for_documents_xmltodict_shapes() -> None:
    with pytest.raises(BadMessage, match="levels"):
        parse_xml(b"<xml a='1'>" + b"<a>" * MAX_DEPTH + b"x" + b"</a>" * MAX_DEPTH + b"</xml>")


def test_a_text_full_of_markup_in_cdata_is_a_message() -> None:
    """More "<" than `MAX_ELEMENTS` inside CDATA is text, not elements: parsed, same shape as xmltodict."""
    content = "<b>" * 1000
    body = render_xml({**BASE, "MsgType": "text", "Content": content, "MsgId": 1}).encode()
    assert ours(body) == xmltodict_root(body) and ours(body)["Content"] == content


@pytest.mark.parametrize(
    "body", [b"<xml>" + b"<a>x</a>" * 600 + b"<oops></xml>", b"<xml><p:A>x</p:A>" + b"<a/>" * 600 + b"</xml>"]
)
def test_a_malformed_markup_heavy_body_is_refused(body: bytes) -> None:
    with pytest.raises(BadMessage):
        parse_xml(body)


def test_texts_longer_than_wechat_sends_are_cut_at_a_character() -> None:
    long = "好" * 100_000
    body = render_xml(
        {
            **BASE,
            "MsgType": "event",
            "Event": "scancode_push",
            "EventKey": "k" * 5000,
            "ScanCodeInfo": {"ScanResult": long},
        }
    )
    event = to_message(parse_xml(body.encode()), body)
    assert event.key == "k" * MAX_TEXT_BYTES
    assert event.ScanCodeInfo["ScanResult"] == "好" * (MAX_TEXT_BYTES // 3)  # 682 whole characters, 2046 bytes
    text = render_xml({**BASE, "MsgType": "text", "Content": "ab" + long, "MsgId": 1})
    message = to_message(parse_xml(text.encode()), text)
    assert len(message.content.encode()) == MAX_TEXT_BYTES and message.content.startswith("ab好")
    short = render_xml({**BASE, "MsgType": "text", "Content": "好" * 682, "MsgId": 2})
    assert to_message(parse_xml(short.encode()), short).content == "好" * 682
