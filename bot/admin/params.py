"""Reading the admin API's query and path parameters and JSON bodies: one place that turns a bad value into a 400
(or a problem for a 422), never a 500.

Integers are bounded to what a database column holds (a signed 64-bit integer), so an id of twenty-three digits is
a client's mistake answered as one, not an overflow deep in the driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

INT64_MAX = 2**63 - 1


class BadParameter(ValueError):
    """A query or path parameter the client got wrong; the admin app answers 400 with the message."""


def parse_int(
    raw: str | None, name: str, default: int | None = None, *, low: int = 0, high: int = INT64_MAX
) -> int | None:
    """`raw` as an integer in [low, high]; `default` when absent or empty."""
    if raw is None or raw == "":
        return default
    text = raw.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        raise BadParameter(f"{name} must be a whole number between {low} and {high}")
    value = int(text)
    if not low <= value <= high:
        raise BadParameter(f"{name} must be a whole number between {low} and {high}")
    return value


def query_int(query: Mapping[str, str], name: str, default: int, *, low: int = 0, high: int = INT64_MAX) -> int:
    """A query parameter as an integer, `default` when absent."""
    value = parse_int(query.get(name), name, default, low=low, high=high)
    assert value is not None
    return value


def page_size(query: Mapping[str, str], name: str, default: int, most: int) -> int:
    """A page size: at least 1, and `most` when the client asks for more."""
    return min(query_int(query, name, default, low=1, high=INT64_MAX), most)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's body as a JSON object, else `BadParameter` (400)."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise BadParameter("body is not JSON") from None
    if not isinstance(body, dict):
        raise BadParameter("body must be a JSON object")
    return body


def int_field(body: Mapping[str, Any], name: str, default: int | None, problems: list[str]) -> int:
    """An integer field of a JSON body (`default` when absent); anything else is noted in `problems` (a 422)."""
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        problems.append(f"{name} must be an integer")
        return 0
    return value
