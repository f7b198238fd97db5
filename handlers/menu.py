"""Custom-menu events: CLICK keys route to intents, VIEW opens a page (nothing to say), scancode returns a code."""

from __future__ import annotations

from werobot.messages.events import WeChatEvent
from werobot.robot import BaseRoBot

from handlers.context import HandlerContext, ReplyLike, bind, message_field

_CLICK_PROMPTS = {
    "BROWSE": "欢迎逛商城！回复商品名称搜索，例如“连衣裙”。",
    "MY_ORDERS": "回复“我的订单”查看最近的订单。",
    "TRACKING": "回复“查快递”查看最新物流。",
    "MY_COUPONS": "回复“我的优惠券”查看可用优惠券。",
    "MEMBER": "回复“我是什么会员”查看会员等级与权益。",
    "AFTER_SALES": "回复“退货”或“退款”申请售后。",
    "HUMAN": "回复“人工”联系客服。",
}


def on_click(message: WeChatEvent, ctx: HandlerContext) -> ReplyLike:
    return _CLICK_PROMPTS.get(message.key or "", "这个菜单暂时没有内容。")


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
