"""The chat preview's transcript entries: what a follower did and what the account showed them, as JSON data.

Replies (parsed reply XML from the follower simulator) and deliveries (customer-service and template payloads as
WeChat's API received them) come in WeChat's own shapes; the page and `wxshop chat` want one small shape for all
of them. Everything here is data: the page renders it with `textContent`, never as HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.sandbox.follower import Delivery
from bot.sandbox.world import Delivered

Entry = dict[str, Any]

REPLY_PLACEHOLDERS = {"image": "[图片]", "voice": "[语音]", "video": "[视频]", "music": "[音乐]"}
CUSTOM_PLACEHOLDERS = {
    "image": "[图片]",
    "voice": "[语音]",
    "video": "[视频]",
    "music": "[音乐]",
    "mpnews": "[图文消息]",
    "mpnewsarticle": "[图文消息]",
    "wxcard": "[卡券]",
    "miniprogrampage": "[小程序]",
}
EVENT_LABELS = {"subscribe": "关注了公众号", "unsubscribe": "取消关注", "CLICK": "点击菜单", "VIEW": "打开菜单链接"}


def follower_text(text: str) -> Entry:
    return {"from": "follower", "kind": "text", "text": text}


def follower_event(event: str, detail: str = "") -> Entry:
    """A follower action the chat shows as a small grey notice (WeChat itself shows none; a preview should)."""
    label = EVENT_LABELS.get(event, event)
    return {"from": "follower", "kind": "event", "event": event, "text": f"{label} {detail}".strip()}


def follower_location(label: str, lat: float, lng: float) -> Entry:
    return {"from": "follower", "kind": "location", "text": label, "lat": lat, "lng": lng}


def reply_entries(delivery: Delivery) -> list[Entry]:
    """What the follower saw after one message: the passive reply, WeChat's error notice, or nothing."""
    if delivery.failed:
        return [{"from": "system", "kind": "notice", "text": delivery.shown, "error": delivery.error}]
    reply = delivery.reply
    if not reply:
        return []
    kind = reply.get("MsgType")
    base: Entry = {"from": "account", "channel": "reply"}
    if kind == "text":
        return [{**base, "kind": "text", "text": str(reply.get("Content") or "")}]
    if kind == "news":
        items = (reply.get("Articles") or {}).get("item") or []
        items = items if isinstance(items, list) else [items]
        articles = [
            _article(item.get("Title"), item.get("Description"), item.get("PicUrl"), item.get("Url"))
            for item in items
            if isinstance(item, Mapping)
        ]
        return [{**base, "kind": "news", "articles": articles}]
    if kind == "transfer_customer_service":
        return [{"from": "system", "kind": "notice", "text": "已转接人工客服，请稍候"}]
    return [{**base, "kind": "text", "text": REPLY_PLACEHOLDERS.get(str(kind), f"[{kind}]")}]


def delivered_entry(delivered: Delivered, template_titles: Mapping[str, str]) -> Entry:
    """A customer-service or template message the emulated WeChat delivered to the follower."""
    payload = delivered.payload
    if delivered.kind == "template":
        template_id = str(payload.get("template_id") or "")
        data = payload.get("data") or {}
        fields = [
            {"key": str(key), "value": str(field.get("value", "")) if isinstance(field, Mapping) else str(field)}
            for key, field in data.items()
        ]
        return {
            "from": "account",
            "channel": "template",
            "kind": "template",
            "title": template_titles.get(template_id, "服务通知"),
            "template_id": template_id,
            "fields": fields,
            "url": str(payload.get("url") or ""),
            "msgid": delivered.msgid,
        }
    base: Entry = {"from": "account", "channel": "custom"}
    msgtype = str(payload.get("msgtype") or "")
    body = payload.get(msgtype) if isinstance(payload.get(msgtype), Mapping) else {}
    if msgtype == "text":
        return {**base, "kind": "text", "text": str(body.get("content") or "")}
    if msgtype == "news":
        articles = [
            _article(a.get("title"), a.get("description"), a.get("picurl"), a.get("url"))
            for a in body.get("articles") or []
            if isinstance(a, Mapping)
        ]
        return {**base, "kind": "news", "articles": articles}
    if msgtype == "image" and body.get("media_id"):  # the preview shows it from the media emulator
        return {**base, "kind": "image", "text": "[图片]", "src": f"/sandbox/media/{body['media_id']}"}
    if msgtype == "msgmenu":
        options = [str(item.get("content") or "") for item in body.get("list") or [] if isinstance(item, Mapping)]
        lines = [str(body.get("head_content") or ""), *options, str(body.get("tail_content") or "")]
        return {**base, "kind": "text", "text": "\n".join(line for line in lines if line)}
    return {**base, "kind": "text", "text": CUSTOM_PLACEHOLDERS.get(msgtype, f"[{msgtype}]")}


def template_titles(templates: Mapping[str, Any]) -> dict[str, str]:
    """template_id → the notice kind named in `[templates]` (`kind = "ID"` or `kind = {id = "ID", ...}`)."""
    titles: dict[str, str] = {}
    for kind, value in templates.items():
        if isinstance(value, str):
            titles[value] = kind
        elif isinstance(value, Mapping):
            template_id = value.get("id") or value.get("template_id")
            if isinstance(template_id, str):
                titles[template_id] = str(value.get("title") or kind)
    return titles


def _article(title: Any, description: Any, picurl: Any, url: Any) -> Entry:
    return {
        "title": str(title or ""),
        "description": str(description or ""),
        "picurl": str(picurl or ""),
        "url": str(url or ""),
    }
