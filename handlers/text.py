"""Text messages: what followers type. The dialog engine answers them (until it lands, a helpful prompt)."""

from __future__ import annotations

from werobot.messages.messages import TextMessage
from werobot.robot import BaseRoBot

from handlers.context import HandlerContext, ReplyLike, bind


def on_text(message: TextMessage, ctx: HandlerContext) -> ReplyLike:
    text = (message.content or "").strip()
    if not text:
        return "请输入文字，例如“逛商城”或“我的订单”。"
    return f"欢迎来到{ctx.shop_name}！回复“逛商城”看看商品，或点击下方菜单。"


def register(robot: BaseRoBot, ctx: HandlerContext) -> None:
    robot.add_handler(bind(on_text, ctx), type="text")
