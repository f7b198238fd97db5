"""Text messages: what followers type, answered by the dialog engine."""

from __future__ import annotations

from werobot.messages.messages import TextMessage
from werobot.robot import BaseRoBot

from handlers.context import HandlerContext, ReplyLike, bind


def on_text(message: TextMessage, ctx: HandlerContext) -> ReplyLike:
    return ctx.engine.on_text(message.source, message.content or "")


def register(robot: BaseRoBot, ctx: HandlerContext) -> None:
    robot.add_handler(bind(on_text, ctx), type="text")
