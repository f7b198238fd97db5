"""WeChat MP API errors as the emulator raises them: one exception, rendered at the edge as WeChat's JSON body."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from aiohttp import web

# errcode → WeChat's errmsg (from WeChat's public return-code table; WECHAT.md §2).
ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40005: "invalid file type",
    40006: "invalid meida size",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40015: "invalid menu type",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40020: "invalid button url size",
    40022: "invalid sub menu level",
    40023: "invalid sub button size",
    40024: "invalid sub button type",
    40025: "invalid sub button name size",
    40026: "invalid sub button key size",
    40027: "invalid sub button url size",
    40029: "invalid code",
    40032: "invalid openid list size, at most 50 openids per call",
    40037: "invalid template_id",
    40053: "invalid action info",
    40060: "invalid article_id",
    40125: "invalid appsecret",
    40163: "code been used",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    41008: "missing code",
    42001: "access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    43004: "require subscribe",
    44002: "empty post data",
    44003: "empty news data",
    44004: "empty content",
    45008: "article size out of limit",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    45056: "too many tags, an account may create 100",
    45057: "tag has more than 100000 followers and cannot be deleted",
    45058: "cannot change the system tags 0, 1 and 2",
    45059: "a follower would carry more than 20 tags",
    45065: "clientmsgid exist",
    45067: "clientmsgid size out of limit",
    45157: "invalid tag name, it must not repeat another tag",
    45158: "tag name longer than 30 bytes",
    45159: "invalid tag id",
    46003: "menu no exist",
    47001: "data format error",
    47003: "argument invalid!",
    48001: "api unauthorized",
    49003: "openid does not belong to this appid",
    65301: "no conditional menu with this menuid",
    65302: "no such user",
    65303: "no default menu, cannot create a conditional menu",
    65304: "match rule empty",
    65320: "match rule uses personal data (sex, region, language), no longer supported",
}

dumps = partial(json.dumps, ensure_ascii=False)


class MpError(Exception):
    """An API call refused the way WeChat refuses it: HTTP 200 with a non-zero errcode."""

    def __init__(self, errcode: int, detail: str = "", **extra: Any) -> None:
        self.errcode = errcode
        self.errmsg = ERRMSG.get(errcode, "error")
        if detail:
            self.errmsg = f"{self.errmsg} {detail}"
        self.extra = extra
        super().__init__(f"{errcode} {self.errmsg}")

    def body(self, rid: str) -> dict[str, Any]:
        return {"errcode": self.errcode, "errmsg": f"{self.errmsg} rid: {rid}", **self.extra}


def ok(**fields: Any) -> web.Response:
    """WeChat's success body; extra fields (msgid, ticket…) follow errcode/errmsg."""
    return web.json_response({"errcode": 0, "errmsg": "ok", **fields}, dumps=dumps)


def plain(payload: dict[str, Any]) -> web.Response:
    """A success body without errcode, as /cgi-bin/token, user/info and sns answer."""
    return web.json_response(payload, dumps=dumps)


async def read_json(request: web.Request) -> dict[str, Any]:
    """Parse a JSON object body whatever its Content-Type (wechatpy sends none): 44002 empty, 47001 malformed."""
    raw = await request.read()
    if not raw.strip():
        raise MpError(44002)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MpError(47001, "hint: body is not JSON") from exc
    if not isinstance(data, dict):
        raise MpError(47001, "hint: body must be a JSON object")
    return data
