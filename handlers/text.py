"""Text messages: what followers type, answered by the dialog engine. (The gateway records the customer-service
window a message opens, and reads the follower's dialog state in its dedup round trip.)"""

from __future__ import annotations

from werobot.messages.messages import TextMessage
from werobot.robot import BaseRoBot

from handlers.context import HandlerContext, ReplyLike, bind, state_io


def on_text(message: TextMessage, ctx: HandlerContext) -> ReplyLike:
    return ctx.engine.on_text(message.source, message.content or "", state_io(message))


def register(robot: BaseRoBot, ctx: HandlerContext) -> None:
    robot.add_handler(bind(on_text, ctx), type="text")
