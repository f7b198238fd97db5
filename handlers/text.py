"""Text messages: what followers type, answered by the dialog engine. A message opens a customer-service window
(the outbox may then reach the follower for 48 hours)."""

from __future__ import annotations

from werobot.messages.messages import TextMessage
from werobot.robot import BaseRoBot

from handlers.context import HandlerContext, ReplyLike, bind
from store.windows import record_interaction


def on_text(message: TextMessage, ctx: HandlerContext) -> ReplyLike:
    record_interaction(ctx.redis, ctx.key, message.source, "message", ctx.clock.now())
    return ctx.engine.on_text(message.source, message.content or "")


def register(robot: BaseRoBot, ctx: HandlerContext) -> None:
    robot.add_handler(bind(on_text, ctx), type="text")
