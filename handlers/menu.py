"""Custom-menu events: CLICK keys route to the engine's intents, VIEW opens a page (nothing to say), scancode
returns what was scanned."""

from __future__ import annotations

from werobot.messages.events import WeChatEvent
from werobot.robot import BaseRoBot

from dialogs.engine import Tapped
from handlers.context import HandlerContext, HandlerResult, add, message_field, take_turn


def on_click(message: WeChatEvent, ctx: HandlerContext) -> HandlerResult:
    return take_turn(message, ctx, Tapped(message.key or ""))


def on_view(message: WeChatEvent, ctx: HandlerContext) -> HandlerResult:
    return None


def on_scancode(message: WeChatEvent, ctx: HandlerContext) -> HandlerResult:
    info = message_field(message, "ScanCodeInfo") or {}
    result = info.get("ScanResult", "") if isinstance(info, dict) else ""
    return f"扫码结果：{result}" if result else "没有识别到二维码内容。"


def register(robot: BaseRoBot, ctx: HandlerContext) -> None:
    add(robot, ctx, on_click, ["click_event"], turns=True)
    add(robot, ctx, on_view, ["view_event"])
    add(robot, ctx, on_scancode, ["scancode_push_event", "scancode_waitmsg_event"])
