"""Answers for built-in intents that have no flow yet. Later issues replace each with its flow (tracking,
after-sales, member centre, coupons, points); the routing to them is already in place."""

from __future__ import annotations

from dialogs.flows import Turn
from dialogs.intents import Intent
from dialogs.replies import ReplyLike


def member(turn: Turn, intent: Intent) -> ReplyLike:
    return "您是普通会员。累计消费满5000元升级VIP会员，享95折和专属客服。"


def points(turn: Turn, intent: Intent) -> ReplyLike:
    return "您目前有0积分。100积分可抵1元，下单时可用。"


def coupons(turn: Turn, intent: Intent) -> ReplyLike:
    return "您目前没有可用的优惠券。"


PLACEHOLDERS = {
    "member": member,
    "points": points,
    "coupons": coupons,
}
