"""Text messages: what followers type, answered by the dialog engine. (The gateway records the customer-service
window a message opens, and reads the follower's dialog state in its dedup round trip.)"""

from __future__ import annotations

from werobot.messages.messages import TextMessage
from werobot.robot import BaseRoBot

from dialogs.engine import Said
from handlers.context import HandlerContext, HandlerResult, add, take_turn


def on_text(message: TextMessage, ctx: HandlerContext) -> HandlerResult:
    return take_turn(message, ctx, Said(message.content or ""))


def register(robot: BaseRoBot, ctx: HandlerContext) -> None:
    add(robot, ctx, on_text, ["text"], turns=True)
