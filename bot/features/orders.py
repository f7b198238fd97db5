"""我的订单, cancelling an unpaid order, and the worker's order timeouts and refund sync."""

from __future__ import annotations

from bot.features.base import Chat, ChatContext, Feature
from dialogs.order_answers import make_cancel_order_answer, make_orders_answer
from scheduler.order_jobs import ORDER_FUNCTIONS, order_cron


def chat(ctx: ChatContext) -> Chat:
    return Chat(
        answers={
            "orders": make_orders_answer(ctx.config.server.public_url),
            "cancel_order": make_cancel_order_answer(ctx.resources.clock),
        }
    )


FEATURE = Feature(
    "orders", help="查订单：回复“我的订单”", chat=chat, jobs=tuple(ORDER_FUNCTIONS), cron=lambda config: order_cron()
)
