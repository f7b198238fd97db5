"""我的订单 / 订单详情: the follower's latest orders with their status (and the pay link of unpaid ones); one order
in full when asked for by its number in the list or its order number ("订单详情 1")."""

from __future__ import annotations

import re
from collections.abc import Callable

from dialogs.flows import Turn
from dialogs.intents import Intent
from dialogs.replies import ReplyLike, yuan
from store.core.clock import Clock
from store.orders.checkout import PAID, SHIPPED, UNPAID, cancel_if_unpaid, pay_link
from store.orders.views import OrderDetail, order_detail, recent_orders

_ORDER_NO = re.compile(r"\d{16,32}")
REFUNDABLE = frozenset({PAID, SHIPPED})
_DETAIL = re.compile(r"(?:订单详情|订单|详情)\s*(?:第)?(\d{1,2}|\d{16,32})(?:个|号)?\s*$")


def make_orders_answer(public_url: str, limit: int = 5) -> Callable[[Turn, Intent], ReplyLike]:
    def orders(turn: Turn, intent: Intent) -> ReplyLike:
        found = recent_orders(turn.openid, limit)
        wanted = _DETAIL.search(turn.text.replace(" ", ""))
        if wanted:
            ref = wanted[1]
            if len(ref) <= 2:
                index = int(ref) - 1
                ref = found[index].order_no if 0 <= index < len(found) else ""
            detail = order_detail(ref, turn.openid) if ref else None
            if detail is None:
                return "没有找到这个订单。回复“我的订单”查看最近的订单。"
            return _detail_text(detail, public_url, turn)
        if not found:
            return "您最近还没有订单。回复“逛商城”挑选商品吧～"
        lines = []
        for i, order in enumerate(found, start=1):
            when = f"{order.created_at:%m月%d日 %H:%M}"
            line = f"{i}. {order.title} ¥{yuan(order.payable_fen)} {order.status_label}（{when}）"
            if order.status == UNPAID and order.expires_at > turn.now:
                line += f"\n   去支付：{pay_link(public_url, order.order_no)}"
            lines.append(line)
        return "您最近的订单：\n" + "\n".join(lines) + "\n回复“订单详情 1”查看第1个订单的详情。"

    return orders


def _detail_text(detail: OrderDetail, public_url: str, turn: Turn) -> str:
    order = detail.order
    rows = [f"订单 {order.order_no}（{order.status_label}）"]
    for line in detail.lines:
        spec = f"（{line.spec}）" if line.spec else ""
        rows.append(f"· {line.title}{spec} ×{line.quantity} ¥{yuan(line.subtotal_fen)}")
    rows += [text for text in (order.pricing or "").splitlines() if text]
    if order.needs_shipping and order.ship_name:
        rows.append(f"收货：{order.ship_name} {order.ship_region}{order.ship_detail}")
    rows.append(f"下单时间：{order.created_at:%Y-%m-%d %H:%M}")
    if order.status == UNPAID and order.expires_at > turn.now:
        rows.append(f"去支付：{pay_link(public_url, order.order_no)}")
    return "\n".join(rows)


def make_cancel_order_answer(clock: Clock) -> Callable[[Turn, Intent], ReplyLike]:
    """"单子不要了帮我取消": an unpaid order is cancelled at once (its stock, coupons and points go back); one that
    is paid is a refund, which after-sales handles; with several unpaid, the buyer names one by its number."""

    def cancel_order(turn: Turn, intent: Intent) -> ReplyLike:
        found = recent_orders(turn.openid, 10)
        unpaid = [o for o in found if o.status == UNPAID]
        named = _ORDER_NO.search(turn.text)
        if named:
            unpaid = [o for o in unpaid if o.order_no == named[0]]
        if len(unpaid) == 1:
            order = unpaid[0]
            if cancel_if_unpaid(order.order_no, clock.now()):
                return f"已取消订单 {order.order_no}（{order.title}），库存、优惠券和积分都已退回。"
            return "这个订单刚刚已经支付或关闭了，回复“我的订单”看看最新状态。"
        if len(unpaid) > 1:
            lines = "\n".join(f"· {o.order_no} {o.title} ¥{yuan(o.payable_fen)}" for o in unpaid[:5])
            return f"您有{len(unpaid)}个待支付的订单：\n{lines}\n回复“取消订单 订单号”取消其中一个。"
        if any(o.status in REFUNDABLE for o in found):
            return "已付款的订单不能直接取消，可以申请退款：回复“退款”，按提示选择订单即可。"
        return "您没有可以取消的订单。回复“我的订单”查看最近的订单。"

    return cancel_order
