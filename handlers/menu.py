"""Custom-menu events: CLICK keys route to the engine's intents, VIEW opens a page (nothing to say), scancode
returns what was scanned."""

from __future__ import annotations

from werobot.messages.events import WeChatEvent
from werobot.robot import BaseRoBot

from handlers.context import HandlerContext, ReplyLike, bind, message_field, state_io


def on_click(message: WeChatEvent, ctx: HandlerContext) -> ReplyLike:
    return ctx.engine.on_menu(message.source, message.key or "", state_io(message))


def on_view(message: WeChatEvent, ctx: HandlerContext) -> ReplyLike:
    return None


def on_scancode(message: WeChatEvent, ctx: HandlerContext) -> ReplyLike:
    info = message_field(message, "ScanCodeInfo") or {}
    result = info.get("ScanResult", "") if isinstance(info, dict) else ""
    return f"扫码结果：{result}" if result else "没有识别到二维码内容。"


def register(robot: BaseRoBot, ctx: HandlerContext) -> None:
    robot.add_handler(bind(on_click, ctx), type="click_event")
    robot.add_handler(bind(on_view, ctx), type="view_event")
    robot.add_handler(bind(on_scancode, ctx), type="scancode_push_event")
    robot.add_handler(bind(on_scancode, ctx), type="scancode_waitmsg_event")
