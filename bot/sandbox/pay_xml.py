"""WeChat Pay v2 wire format: the flat `<xml>` documents and their MD5 / HMAC-SHA256 signatures.

Signing delegates to wechatpy's `calculate_signature` (the peer implementation the product uses), so the
emulator and the client can only agree when both follow WECHAT.md §3.1. Untrusted bodies are parsed with
defusedxml (no DTDs, no entities); values are kept verbatim (no whitespace stripping) because they are signed.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

SIGN_TYPES = ("MD5", "HMAC-SHA256")


class XmlFormatError(ValueError):
    """The body is not a flat, UTF-8 `<xml>` document; `return_msg` is what WeChat answers."""

    def __init__(self, return_msg: str) -> None:
        super().__init__(return_msg)
        self.return_msg = return_msg


def parse_xml(body: bytes) -> dict[str, str]:
    """The fields of a flat `<xml><name>value</name>…</xml>` body; nested or repeated elements are refused."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise XmlFormatError("编码格式错误") from None
    try:
        root = fromstring(text, forbid_dtd=True)
    except (ParseError, DefusedXmlException):
        raise XmlFormatError("XML格式错误") from None
    if root.tag != "xml":
        raise XmlFormatError("XML格式错误")
    fields: dict[str, str] = {}
    for child in root:
        if len(child) or child.tag in fields:
            raise XmlFormatError("XML格式错误")
        fields[child.tag] = child.text or ""
    return fields


def render_xml(fields: Mapping[str, str | int | None], *, sort: bool = False) -> str:
    """WeChat's shape: integers bare, strings in CDATA, `None` left out (sorted, as in payment notices)."""
    items = sorted(fields.items()) if sort else list(fields.items())
    parts = ["<xml>"]
    for name, value in items:
        if value is None:
            continue
        if isinstance(value, int):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            safe = str(value).replace("]]>", "]]]]><![CDATA[>")
            parts.append(f"<{name}><![CDATA[{safe}]]></{name}>")
    parts.append("</xml>")
    return "".join(parts)


def sign(fields: Mapping[str, str | int | None], api_key: str, sign_type: str = "MD5") -> str:
    """The v2 signature over every non-empty field except `sign` (unknown fields included, as WeChat does)."""
    payload = {k: str(v) for k, v in fields.items() if k != "sign" and v is not None and str(v) != ""}
    if sign_type == "HMAC-SHA256":
        return calculate_signature_hmac(payload, api_key)
    if sign_type == "MD5":
        return calculate_signature(payload, api_key)
    raise ValueError(f"unsupported sign_type {sign_type!r}")


def verify(fields: Mapping[str, str], api_key: str) -> bool:
    """Whether `fields["sign"]` is right for the declared `sign_type` (MD5 when absent)."""
    sign_type = fields.get("sign_type") or "MD5"
    if sign_type not in SIGN_TYPES:
        return False
    return hmac.compare_digest(sign(fields, api_key, sign_type), fields.get("sign", ""))


def signed(fields: dict[str, str | int | None], api_key: str, sign_type: str = "MD5") -> dict[str, str | int | None]:
    """`fields` with `sign` added last, as WeChat's replies and notices carry it."""
    fields["sign"] = sign(fields, api_key, sign_type)
    return fields


def nonce() -> str:
    return secrets.token_hex(16)
