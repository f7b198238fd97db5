"""The chat side of issue 9, assembled for `build_engine`: the `tracking` flow (查快递) and the `after_sales`
flow (退货/退款/换货/投诉), with the after-sales rules read from config once and opened tickets counted."""

from __future__ import annotations

from prometheus_client import Counter

from bot.process.config import Config
from dialogs.flows import Flow, after_sales, tracking
from store.after_sales.tickets import AfterSalesRules, Ticket
from store.core.clock import Clock

TICKETS = Counter("wxshop_after_sales_tickets_total", "After-sales tickets opened in chat, by kind", ["kind"])


def _count(ticket: Ticket) -> None:
    TICKETS.labels(ticket.kind).inc()


def service_flows(config: Config, clock: Clock) -> dict[str, Flow]:
    rules = AfterSalesRules.from_settings(config.after_sales, config.shop)
    return {
        "tracking": tracking.build(),
        "after_sales": after_sales.build(after_sales.AfterSalesDeps(rules=rules, now=clock.now, on_opened=_count)),
    }
