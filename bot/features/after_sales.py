"""退货/退款/换货/投诉 in chat (tickets counted as they open), the 1–5 rating of a closed ticket, and the worker's
SLA, refund and compensation sweep."""

from __future__ import annotations

from prometheus_client import Counter

from bot.features.base import Chat, ChatContext, Feature
from dialogs import rating_answers
from dialogs.flows import after_sales
from scheduler.after_sales_jobs import AFTER_SALES_FUNCTIONS, after_sales_cron
from store.after_sales.tickets import AfterSalesRules, Ticket

TICKETS = Counter("wxshop_after_sales_tickets_total", "After-sales tickets opened in chat, by kind", ["kind"])


def _count(ticket: Ticket) -> None:
    TICKETS.labels(ticket.kind).inc()


def chat(ctx: ChatContext) -> Chat:
    rules = AfterSalesRules.from_settings(ctx.config.after_sales, ctx.config.shop)
    flow = after_sales.build(after_sales.AfterSalesDeps(rules=rules, now=ctx.now, on_opened=_count))
    rate, answer = rating_answers.INTENT, rating_answers.make_rating_answer(rules.rating_days)
    return Chat(flows={"after_sales": flow}, answers={rate: answer}, intents=(rating_answers.WORDS,),
                idle_intents=frozenset({rate}))  # fmt: skip


FEATURE = Feature(
    "after_sales",
    help="售后：回复“退货”或“退款”",
    chat=chat,
    jobs=tuple(AFTER_SALES_FUNCTIONS),
    cron=lambda config: after_sales_cron(),
)
