"""Customer-service and template messages (WECHAT.md §2.2, §2.3).

Custom send: touser unknown → 40003; unknown msgtype → 40008; missing body → 47001; empty text → 44004; news
with 0 articles → 44003, more than 1 → 45008; not following or outside every window → 45015; windows open but
used up → 45047.

Template send: touser unknown → 40003, not following → 43004; empty or (when `template_ids` is configured)
unknown template_id → 40037; missing data → 47003; a field over 20 characters or with a line break → 47003
(`strict_template_fields`, on by default: WeChat's announcement says such fields are cut, we would rather fail
loudly in tests); daily quota → 45009. `client_msg_id` (≤ 64 bytes, else 45067): the same openid + id within
10 minutes sends nothing and answers 45065 ``clientmsgid exist`` with the first ``msgid`` in the body, as
WeChat's mass-send API does (for template messages the docs only say "只发送一条消息"; a product that treats
45065 as "already sent" is right either way). `first`, `remark` and `color` are dropped from what the follower
sees, as WeChat has done since 2023-05. After a send, a TEMPLATESENDJOBFINISH push goes to the callback URL with
`success`, or `failed:user block` for followers marked by `World.block_templates` (who then see nothing).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.mp_errors import MpError, ok, read_json
from bot.sandbox.mp_media import MEDIA
from bot.sandbox.mp_push import template_finish_xml
from bot.sandbox.mp_state import MP_STATE
from bot.sandbox.world import CsVerdict, Delivered

TEMPLATE_FIELD_MAX_CHARS = 20
CLIENT_MSG_ID_MAX_BYTES = 64
DROPPED_TEMPLATE_KEYS = frozenset({"first", "remark"})

# msgtype → fields its body object must carry.
_CUSTOM_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("content",),
    "image": ("media_id",),
    "voice": ("media_id",),
    "video": ("media_id",),
    "music": ("musicurl", "hqmusicurl", "thumb_media_id"),
    "news": ("articles",),
    "mpnews": ("media_id",),
    "mpnewsarticle": ("article_id",),
    "msgmenu": ("list",),
    "wxcard": ("card_id",),
    "miniprogrampage": ("appid", "pagepath", "thumb_media_id"),
}

_CS_ERRCODE = {
    CsVerdict.UNKNOWN_OPENID: 40003,
    CsVerdict.NOT_FOLLOWING: 45015,
    CsVerdict.OUT_OF_WINDOW: 45015,
    CsVerdict.QUOTA_EXHAUSTED: 45047,
}


def setup_messages(app: web.Application) -> None:
    app.router.add_post("/cgi-bin/message/custom/send", custom_send)
    app.router.add_post("/cgi-bin/message/template/send", template_send)


def validate_custom(data: dict[str, Any]) -> tuple[str, str]:
    """(touser, msgtype) of a well-formed customer-service message, else the MpError WeChat answers."""
    touser = data.get("touser")
    if not isinstance(touser, str) or not touser:
        raise MpError(40003)
    msgtype = data.get("msgtype")
    if msgtype not in _CUSTOM_FIELDS:
        raise MpError(40008)
    body = data.get(msgtype)
    if not isinstance(body, dict):
        raise MpError(47001, f"hint: missing {msgtype} object")
    if msgtype == "text" and not (isinstance(body.get("content"), str) and body["content"]):
        raise MpError(44004)
    if msgtype == "news":
        articles = body.get("articles")
        if not isinstance(articles, list) or not articles:
            raise MpError(44003)
        if len(articles) > 1:
            raise MpError(45008)
    for name in _CUSTOM_FIELDS[msgtype]:
        if not body.get(name):
            raise MpError(40007 if name == "media_id" else 47001, f"hint: missing {msgtype}.{name}")
    return touser, msgtype


async def custom_send(request: web.Request) -> web.Response:
    state = request.app[MP_STATE]
    data = await read_json(request)
    touser, msgtype = validate_custom(data)
    if msgtype == "image" and request.app[MEDIA].get(data["image"]["media_id"], state.clock.now()) is None:
        raise MpError(40007)
    payload = {k: v for k, v in data.items() if k != "touser"}
    verdict = state.world.send_custom(touser, payload)
    if verdict is not CsVerdict.SENT:
        raise MpError(_CS_ERRCODE[verdict])
    return ok()


def shown_template(data: Any, strict: bool) -> dict[str, dict[str, str]]:
    """The template fields as the follower sees them, or MpError 47003 for what WeChat refuses."""
    if not isinstance(data, dict) or not data:
        raise MpError(47003, "hint: data is empty")
    shown: dict[str, dict[str, str]] = {}
    for key, field in data.items():
        if key in DROPPED_TEMPLATE_KEYS:
            continue
        value = field.get("value") if isinstance(field, dict) else None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise MpError(47003, f"hint: data.{key}.value is missing")
        text = str(value)
        if strict and (len(text) > TEMPLATE_FIELD_MAX_CHARS or "\n" in text or "\r" in text):
            raise MpError(47003, f"hint: data.{key}.value exceeds {TEMPLATE_FIELD_MAX_CHARS} chars or has a line break")
        shown[key] = {"value": text}
    return shown


async def template_send(request: web.Request) -> web.Response:
    state = request.app[MP_STATE]
    world = state.world
    data = await read_json(request)
    touser = data.get("touser")
    follower = world.follower(touser) if isinstance(touser, str) and touser else None
    if follower is None:
        raise MpError(40003)
    if not follower.subscribed:
        raise MpError(43004)
    template_id = data.get("template_id")
    known = state.config.template_ids
    if not isinstance(template_id, str) or not template_id or (known is not None and template_id not in known):
        raise MpError(40037)
    shown = shown_template(data.get("data"), state.config.strict_template_fields)
    client_msg_id = data.get("client_msg_id")
    if client_msg_id is not None and (
        not isinstance(client_msg_id, str) or len(client_msg_id.encode()) > CLIENT_MSG_ID_MAX_BYTES
    ):
        raise MpError(45067)
    now = state.clock.now()
    msgid = state.templates.reserve(touser, client_msg_id or None, now)
    payload: dict[str, Any] = {"template_id": template_id, "data": shown}
    for key in ("url", "miniprogram", "client_msg_id"):
        if data.get(key):
            payload[key] = data[key]
    status = "failed:user block" if follower.blocks_templates else "success"
    if status == "success":
        world.record_delivery(touser, Delivered("template", payload, now, msgid))
    xml = template_finish_xml(state.config.original_id, touser, int(now.timestamp()), msgid, status)
    state.schedule_push(touser, xml)
    return ok(msgid=msgid)
