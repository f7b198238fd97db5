"""我的订单 / 订单详情: the follower's latest orders with their status, and the pay link for unpaid ones."""

from __future__ import annotations

from collections.abc import Callable

from dialogs.flows import Turn
from dialogs.intents import Intent
from dialogs.replies import ReplyLike, yuan
from store.order_views import recent_orders
from store.orders import UNPAID, pay_link


def make_orders_answer(public_url: str, limit: int = 5) -> Callable[[Turn, Intent], ReplyLike]:
    def orders(turn: Turn, intent: Intent) -> ReplyLike:
        found = recent_orders(turn.openid, limit)
        if not found:
            return "您最近还没有订单。回复“逛商城”挑选商品吧～"
        lines = []
        for i, order in enumerate(found, start=1):
            when = f"{order.created_at:%m月%d日 %H:%M}"
            line = f"{i}. {order.title} ¥{yuan(order.payable_fen)} {order.status_label}（{when}）"
            if order.status == UNPAID and order.expires_at > turn.now:
                line += f"\n   去支付：{pay_link(public_url, order.order_no)}"
            lines.append(line)
        return "您最近的订单：\n" + "\n".join(lines)

    return orders
