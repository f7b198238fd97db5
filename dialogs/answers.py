"""Answers for built-in intents that have no flow yet. Later issues replace each with its flow (browse and search,
orders, tracking, after-sales, member centre, coupons, points); the routing to them is already in place."""

from __future__ import annotations

from dialogs.flows import Turn
from dialogs.intents import Intent
from dialogs.replies import ReplyLike


def browse(turn: Turn, intent: Intent) -> ReplyLike:
    return "欢迎逛商城！直接回复想买的东西，例如“连衣裙”“200以内的耳机”，我来帮您找。"


def search(turn: Turn, intent: Intent) -> ReplyLike:
    return f"正在为您找“{intent.argument}”。商品搜索即将上线，先回复“逛商城”看看吧～"


def orders(turn: Turn, intent: Intent) -> ReplyLike:
    return "您最近还没有订单。回复“逛商城”挑选商品吧～"


def tracking(turn: Turn, intent: Intent) -> ReplyLike:
    return "您目前没有运输中的包裹。"


def after_sales(turn: Turn, intent: Intent) -> ReplyLike:
    return "您目前没有可以申请售后的订单。如有其他问题，回复“人工”联系客服。"


def member(turn: Turn, intent: Intent) -> ReplyLike:
    return "您是普通会员。累计消费满5000元升级VIP会员，享95折和专属客服。"


def points(turn: Turn, intent: Intent) -> ReplyLike:
    return "您目前有0积分。100积分可抵1元，下单时可用。"


def coupons(turn: Turn, intent: Intent) -> ReplyLike:
    return "您目前没有可用的优惠券。"


PLACEHOLDERS = {
    "browse": browse,
    "search": search,
    "orders": orders,
    "tracking": tracking,
    "after_sales": after_sales,
    "member": member,
    "points": points,
    "coupons": coupons,
}
