"""Reading orders: "我的订单" and "订单详情" for the chat, and the admin API's list and detail.

`order_detail` takes the asking follower's openid and answers None for someone else's order, so a chat flow can
never show one buyer another's address by a typed order number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.core.money import yuan
from store.orders.checkout import STATUS_LABELS, UNPAID, Order, OrderLine
from store.orders.payments import Payment, Refund, payments_of, refunds_of


@dataclass(frozen=True)
class OrderSummary:
    order_no: str
    title: str
    status: str
    status_label: str
    payable_fen: int
    created_at: datetime
    expires_at: datetime

    def line(self) -> str:
        """One line of "我的订单": `11月24日 法式碎花连衣裙 等3件 ¥318.00 待支付`."""
        return f"{self.created_at:%m月%d日} {self.title} {yuan(self.payable_fen)} {self.status_label}"


@dataclass(frozen=True)
class OrderDetail:
    order: Order
    lines: list[OrderLine]
    payments: list[Payment]
    refunds: list[Refund]

    def text(self, now: datetime) -> str:
        """The chat's "订单详情" reply (plain text, under WeChat's 2,048-byte text limit for a normal order)."""
        order = self.order
        out = [f"订单号：{order.order_no}", f"状态：{order.status_label}"]
        if order.status == UNPAID and order.expires_at > now:
            out.append(f"请在{order.expires_at:%H:%M}前完成支付")
        for line in self.lines:
            spec = f"（{line.spec.replace(';', '，')}）" if line.spec else ""
            out.append(f"· {line.title}{spec} ×{line.quantity} {yuan(line.subtotal_fen)}")
        out.append(f"商品合计：{yuan(order.subtotal_fen)}")
        if order.discount_fen:
            out.append(f"优惠：-{yuan(order.discount_fen)}")
        if order.points_fen:
            out.append(f"积分抵扣：{order.points_used}积分 -{yuan(order.points_fen)}")
        out.append(f"实付：{yuan(order.payable_fen)}")
        if order.refunded_fen:
            out.append(f"已退款：{yuan(order.refunded_fen)}")
        out.append(f"收货信息：{order.address_line()}")
        out.append(f"下单时间：{order.created_at:%Y-%m-%d %H:%M}")
        return "\n".join(out)


def _summary(order: Order) -> OrderSummary:
    return OrderSummary(
        order.order_no, order.title, order.status, STATUS_LABELS.get(order.status, order.status), order.payable_fen,
        order.created_at, order.expires_at,
    )  # fmt: skip


def recent_orders(openid: str, limit: int = 5) -> list[OrderSummary]:
    """The follower's latest orders, newest first."""
    query = Order.select().where(Order.openid == openid).order_by(Order.created_at.desc(), Order.id.desc())
    return [_summary(o) for o in query.limit(limit)]


def order_detail(order_no: str, openid: str | None) -> OrderDetail | None:
    """The order with its lines, payments and refunds; None when it is not `openid`'s (None = any, for admin)."""
    order = Order.get_or_none(Order.order_no == order_no)
    if order is None or (openid is not None and order.openid != openid):
        return None
    lines = list(OrderLine.select().where(OrderLine.order == order.id).order_by(OrderLine.id))
    return OrderDetail(order, lines, payments_of(order_no), refunds_of(order_no))


def list_orders(
    *, status: str | None = None, openid: str | None = None, before_id: int | None = None, limit: int = 50
) -> list[Order]:
    """Newest first, paged by id (`before_id` = the last id of the previous page)."""
    query = Order.select()
    if status:
        query = query.where(Order.status == status)
    if openid:
        query = query.where(Order.openid == openid)
    if before_id:
        query = query.where(Order.id < before_id)
    return list(query.order_by(Order.id.desc()).limit(limit))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def order_dict(order: Order) -> dict[str, Any]:
    return {
        "id": order.id, "order_no": order.order_no, "openid": order.openid, "status": order.status,
        "status_label": STATUS_LABELS.get(order.status, order.status), "title": order.title, "tier": order.tier,
        "subtotal_fen": order.subtotal_fen, "discount_fen": order.discount_fen, "points_used": order.points_used,
        "points_fen": order.points_fen, "payable_fen": order.payable_fen, "refunded_fen": order.refunded_fen,
        "created_at": _iso(order.created_at), "expires_at": _iso(order.expires_at), "paid_at": _iso(order.paid_at),
        "cancelled_at": _iso(order.cancelled_at), "cancel_reason": order.cancel_reason,
        "transaction_id": order.transaction_id,
    }  # fmt: skip


def detail_dict(detail: OrderDetail) -> dict[str, Any]:
    order = detail.order
    return {
        **order_dict(order),
        "pricing": order.pricing.splitlines(),
        "shipping": None if not order.needs_shipping else {
            "name": order.ship_name, "phone": order.ship_phone, "region": order.ship_region,
            "detail": order.ship_detail,
        },
        "lines": [
            {"id": line.id, "sku_id": line.sku_id, "sku_code": line.sku_code, "title": line.title, "spec": line.spec,
             "virtual": line.virtual, "unit_price_fen": line.unit_price_fen, "quantity": line.quantity,
             "subtotal_fen": line.subtotal_fen, "paid_fen": line.paid_fen, "restocked_qty": line.restocked_qty}
            for line in detail.lines
        ],
        "payments": [
            {"transaction_id": p.transaction_id, "total_fee": p.total_fee, "outcome": p.outcome,
             "recorded_at": _iso(p.paid_at), "time_end": p.time_end}
            for p in detail.payments
        ],
        "refunds": [refund_dict(r) for r in detail.refunds],
    }  # fmt: skip


def refund_dict(refund: Refund) -> dict[str, Any]:
    return {
        "refund_no": refund.refund_no, "order_no": refund.order_no, "kind": refund.kind,
        "amount_fen": refund.amount_fen, "reason": refund.reason, "status": refund.status,
        "refund_id": refund.refund_id, "error": refund.error, "created_at": _iso(refund.created_at),
        "finished_at": _iso(refund.finished_at),
    }  # fmt: skip
