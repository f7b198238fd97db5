"""Events that need no conversation: LOCATION reports, template-send results, and events WeRoBot does not know
(view_miniprogram, kf_* sessions, MASSSENDJOBFINISH…), which must never crash or produce an error reply. Known
events whose payload WeRoBot cannot read, and the hardware platform's `device_*` traffic, come here as unknown
events too (`bot.wechat.inbound`): answered with nothing, never with the "unsupported" text."""

from __future__ import annotations

import logging

from werobot.messages.events import WeChatEvent
from werobot.robot import BaseRoBot

from handlers.context import HandlerContext, HandlerResult, add, message_field
from store.outbox.notices import record_template_result

log = logging.getLogger("wxshop.handlers.events")


def on_location_event(message: WeChatEvent, ctx: HandlerContext) -> HandlerResult:
    """The follower's position is personal data we have no use for yet: not stored, not answered."""
    return None


def on_template_finish(message: WeChatEvent, ctx: HandlerContext) -> HandlerResult:
    msgid, status = message_field(message, "MsgID"), message_field(message, "Status")
    log.info("template delivery result", extra={"msgid": msgid, "status": status})
    if str(msgid or "").isdigit():  # the outbox notice sent as this msgid becomes delivered or failed
        record_template_result(int(msgid), str(status or ""), ctx.clock.now())
    return None


def on_unknown_event(message: WeChatEvent, ctx: HandlerContext) -> HandlerResult:
    if message.type == "kf_close_session_event":  # the agent ended the session: the bot speaks again
        ctx.state.end_human(message.source)
        return None
    log.info("unhandled event", extra={"event": message.type, "openid": message.source})
    return None


def on_unknown_message(message: WeChatEvent, ctx: HandlerContext) -> HandlerResult:
    return "暂不支持这种消息，请输入文字，例如“逛商城”。"


def register(robot: BaseRoBot, ctx: HandlerContext) -> None:
    add(robot, ctx, on_location_event, ["location_event"])
    add(robot, ctx, on_template_finish, ["templatesendjobfinish_event"])
    add(robot, ctx, on_unknown_event, ["unknown_event"])
    add(robot, ctx, on_unknown_message, ["unknown"])
