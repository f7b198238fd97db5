"""Non-text messages: images, voice, video, locations and links. An image goes to the active flow when it takes
images (after-sales photos, `Engine.on_image`); everything else is acknowledged politely. Like a text, any of
them opens a customer-service window (the gateway records it)."""

from __future__ import annotations

from werobot.messages.messages import WeChatMessage
from werobot.robot import BaseRoBot

from dialogs.engine import Photo
from handlers.context import HandlerContext, HandlerResult, add, message_field, take_turn

_ACK = {
    "image": "收到您的图片啦。如需售后，请回复“售后”。",
    "voice": "暂时听不懂语音哦，请输入文字，例如“逛商城”。",
    "video": "收到您的视频啦。如需售后，请回复“售后”。",
    "shortvideo": "收到您的视频啦。如需售后，请回复“售后”。",
    "location": "收到您的位置。回复“逛商城”看看附近热卖的商品。",
    "link": "收到您分享的链接，客服会尽快查看。",
}


def on_media(message: WeChatMessage, ctx: HandlerContext) -> HandlerResult:
    if message.type == "image":
        media_id = str(message_field(message, "MediaId") or "")
        answer = take_turn(message, ctx, Photo(media_id, str(getattr(message, "img", "") or "")))
        if answer is not None:
            return answer
    return _ACK.get(message.type, "收到啦。")


def register(robot: BaseRoBot, ctx: HandlerContext) -> None:
    add(robot, ctx, on_media, ["image"], turns=True)
    add(robot, ctx, on_media, [kind for kind in _ACK if kind != "image"])
