"""`parse_xml` gives exactly what xmltodict gives (the shape WeRoBot reads) for every message and event we know,
and for the odd documents that take its fallback."""

from __future__ import annotations

import pytest
import xmltodict

from bot.sandbox.follower import render_xml
from bot.wechat.inbound import BadMessage, parse_xml
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


def test_deep_nesting_is_parsed_not_a_crash() -> None:
    body = b"<xml><A>" + b"<a>" * 3000 + b"x" + b"</a>" * 3000 + b"</A><B>1</B></xml>"
    assert parse_xml(body)["B"] == "1"
