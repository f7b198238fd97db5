"""The after-sales service KPI (the brief: 售后服务质量评价体系, 处理时效 and 满意度 in the 客服KPI), per operator.

Over the tickets answered (approved or refused) in the span, grouped by who answered them (`handled_by`: the
operator named in the decision, the console user, or `api-token`):
* `response_hours`: the mean time from the buyer's request to the answer, in hours;
* `sla_hit_rate`: the share answered by their deadline (`due_at`: 48 h returns and refunds, 72 h exchanges, 3
  working days complaints);
* `rated`, `average_rating`: the ratings (1–5) buyers gave those tickets, and their mean ("不评价" is not counted).
A row `*` sums every operator. Tickets still open past their deadline in the span are counted apart
(`open_overdue`): nobody answered them, and they miss the SLA all the same.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from store.after_sales.tickets import OPEN, Ticket

ALL = "*"
CSV_COLUMNS = ("operator", "answered", "response_hours", "sla_hit", "sla_hit_rate", "rated", "average_rating")


@dataclass
class OperatorKpi:
    operator: str
    answered: int = 0
    response_seconds: float = 0.0
    sla_hit: int = 0
    ratings: list[int] = field(default_factory=list)

    def add(self, ticket: Ticket) -> None:
        self.answered += 1
        self.response_seconds += (ticket.answered_at - ticket.created_at).total_seconds()
        self.sla_hit += ticket.answered_at <= ticket.due_at
        if ticket.rating:
            self.ratings.append(int(ticket.rating))

    def as_dict(self) -> dict[str, Any]:
        return {
            "operator": self.operator, "answered": self.answered,
            "response_hours": round(self.response_seconds / self.answered / 3600, 2) if self.answered else None,
            "sla_hit": self.sla_hit, "sla_hit_rate": round(self.sla_hit / self.answered, 4) if self.answered else None,
            "rated": len(self.ratings),
            "average_rating": round(sum(self.ratings) / len(self.ratings), 2) if self.ratings else None,
        }  # fmt: skip


def service_kpi(now: datetime, days: int = 7) -> dict[str, Any]:
    """The KPI of the `days` days up to `now` (see the module docstring)."""
    since = now - timedelta(days=days)
    answered = Ticket.select().where(Ticket.answered_at >= since, Ticket.answered_at < now)
    rows: dict[str, OperatorKpi] = {}
    total = OperatorKpi(ALL)
    for ticket in answered.order_by(Ticket.answered_at):
        name = ticket.handled_by or "unknown"
        rows.setdefault(name, OperatorKpi(name)).add(ticket)
        total.add(ticket)
    overdue = Ticket.select().where(Ticket.status == OPEN, Ticket.due_at >= since, Ticket.due_at < now).count()
    return {
        "since": since.isoformat(), "until": now.isoformat(), "days": days,
        "operators": [rows[name].as_dict() for name in sorted(rows)], "total": total.as_dict(),
        "open_overdue": overdue,
    }  # fmt: skip


def kpi_csv(kpi: dict[str, Any]) -> str:
    """The report as CSV: one row per operator, then the total (`*`)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in [*kpi["operators"], kpi["total"]]:
        writer.writerow({key: "" if row[key] is None else row[key] for key in CSV_COLUMNS})
    return out.getvalue()
