"""The merchant's business metrics (DESIGN §6 Monitoring), each an aggregate computed in the database.

Time is Asia/Shanghai from the caller's `now` (never the wall clock); every span is half-open, [start, end); money
is integer fen; a rate whose denominator is 0 is None ("no data", which is not 0 %). Definitions:

* **GMV**: `payable_fen` of orders by `paid_at` — what buyers paid, whatever became of the order later. Refunds
  are reported beside it, not subtracted from it: successful refunds of orders (`kind = request`) by the time
  WeChat settled them. Automatic refunds of late payments are left out: that money never counted as GMV.
  `net = GMV − refunded` over the same span.
* **Periods**: the week from Monday 00:00, the month from the 1st, the quarter from 1 Jan / Apr / Jul / Oct, each
  up to `now`. The previous period is compared over the same elapsed time (Monday..Wednesday 10:00 against last
  Monday..Wednesday 10:00), cut at the current period's start when the previous one is shorter (31 March against
  February). growth = (GMV − previous) / previous.
* **Average order value**: GMV / orders paid over the last 7 days against the 28 days before. Within the band when
  |value − baseline| ≤ band × baseline; with no paid order on either side there is nothing to compare (within).
* **Funnel**: exposures (product cards shown in chat), clicks (product pages opened) and orders paid in the span;
  click_rate = clicks / exposures, pay_rate = orders paid / clicks. These count events, not people: a card shown
  twice is two exposures. Per product, `paid` counts paid orders with a line of that product.
* **Payment success**: attempts = orders created in the span (every order is answered with its pay link; the
  unified order itself is not recorded), paid = those of them paid by now, pending = those still unpaid and
  before their deadline; rate = paid / attempts. The alert's sliding window only counts orders at least `grace`
  old (an order placed a minute ago is not yet a failed payment): those created in [now − window, now − grace).
* **Cancellation**: of the orders created on a day, those cancelled by now (timeout, buyer or operator) / all of
  them; `open` are still unpaid, so a day's rate is final once its last order's deadline has passed.
* **Complaints**: after-sales tickets of kind `dispute` (投诉) opened this week / orders paid this week; the
  alert judges the 7 days up to today 00:00 the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import peewee

from store.after_sales.tickets import DISPUTE, Ticket
from store.catalog.products import Product, Sku
from store.core.clock import SHANGHAI
from store.monitoring.funnel import CLICK, EXPOSURE, FunnelEvent
from store.monitoring.watch import alert_dict, recent_alerts
from store.orders.checkout import UNPAID, Order, OrderLine
from store.orders.payments import REQUEST, SUCCEEDED, Refund

PERIODS = ("week", "month", "quarter")
AOV_DAYS, AOV_BASELINE_DAYS = 7, 28
FUNNEL_PRODUCTS = 100  # the per-product breakdown: the products with most exposures


@dataclass(frozen=True)
class MetricRules:
    """The `[shop]` thresholds, read once from config."""

    aov_band: float = 0.15
    cancellation_threshold: float = 0.08
    payment_success_threshold: float = 0.9
    payment_window: timedelta = timedelta(minutes=60)  # the sliding window the live check judges
    payment_grace: timedelta = timedelta(minutes=10)  # how long an order has to be paid before it counts
    payment_min_orders: int = 20  # fewer orders in the window: too few to judge
    complaint_threshold: float = 0.02
    complaint_min_orders: int = 20  # fewer paid orders in the 7 days: too few to judge
    operators: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, shop: Any) -> MetricRules:
        return cls(
            aov_band=float(shop.aov_band),
            cancellation_threshold=float(shop.cancellation_alert_rate),
            payment_success_threshold=float(shop.payment_success_alert_rate),
            payment_window=timedelta(minutes=int(shop.payment_success_window_minutes)),
            payment_grace=timedelta(minutes=int(shop.payment_success_grace_minutes)),
            payment_min_orders=int(shop.payment_success_min_orders),
            complaint_threshold=float(shop.complaint_alert_rate),
            complaint_min_orders=int(shop.complaint_min_orders),
            operators=tuple(shop.operator_openids),
        )


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime

    def holds(self, column: peewee.Field) -> peewee.Expression:
        return (column >= self.start) & (column < self.end)


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), SHANGHAI)


def local_day(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


def period_start(period: str, now: datetime) -> datetime:
    today = local_day(now)
    if period == "week":
        return midnight(today - timedelta(days=today.weekday()))
    if period == "month":
        return midnight(today.replace(day=1))
    if period == "quarter":
        return midnight(today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1))
    raise ValueError(f"unknown period {period!r}")


def _months_before(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 - months
    return start.replace(year=index // 12, month=index % 12 + 1)


def period_spans(period: str, now: datetime) -> tuple[Span, Span]:
    """(this period up to now, the previous period over the same elapsed time)."""
    start = period_start(period, now)
    before = start - timedelta(days=7) if period == "week" else _months_before(start, 1 if period == "month" else 3)
    return Span(start, now), Span(before, min(before + (now - start), start))


def _sums(model: type[peewee.Model], column: peewee.Field, terms: Sequence[tuple[Span, peewee.Node | int]],
          *where: peewee.Expression) -> list[int]:  # fmt: skip
    """For each (span, value) of `terms`, the sum of `value` over the rows whose `column` is in the span: one query,
    one index range on `column` covering every span."""
    low, high = min(span.start for span, _ in terms), max(span.end for span, _ in terms)
    sums = [peewee.fn.SUM(peewee.Case(None, [(span.holds(column), value)], 0)) for span, value in terms]
    row = model.select(*sums).where(column >= low, column < high, *where).tuples().first()
    return [int(v or 0) for v in row] if row else [0] * len(terms)


# ---- GMV ------------------------------------------------------------------------------------------------------


def gmv(now: datetime) -> dict[str, dict[str, Any]]:
    """Week, month and quarter: GMV, the previous period's, growth, refunds and net (two queries in all)."""
    spans = [span for period in PERIODS for span in period_spans(period, now)]
    paid = _sums(Order, Order.paid_at, [(span, Order.payable_fen) for span in spans])
    refunded = _sums(Refund, Refund.finished_at, [(span, Refund.amount_fen) for span in spans],
                     Refund.status == SUCCEEDED, Refund.kind == REQUEST)  # fmt: skip
    out: dict[str, dict[str, Any]] = {}
    for i, period in enumerate(PERIODS):
        (current, previous), (fen, previous_fen) = spans[2 * i : 2 * i + 2], paid[2 * i : 2 * i + 2]
        out[period] = {
            "fen": fen, "previous_fen": previous_fen,
            "growth": round((fen - previous_fen) / previous_fen, 4) if previous_fen else None,
            "refunded_fen": refunded[2 * i], "net_fen": fen - refunded[2 * i],
            "previous_refunded_fen": refunded[2 * i + 1], "since": current.start.isoformat(),
            "previous_since": previous.start.isoformat(), "previous_until": previous.end.isoformat(),
        }  # fmt: skip
    return out


# ---- average order value ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderValue:
    fen: int
    orders: int
    baseline_fen: int
    baseline_orders: int
    band: float

    @property
    def deviation(self) -> float | None:
        """(value − baseline) / baseline, when both sides have paid orders."""
        if not self.orders or not self.baseline_orders:
            return None
        return round((self.fen - self.baseline_fen) / self.baseline_fen, 4)

    @property
    def within_band(self) -> bool:
        if self.deviation is None:
            return True
        return abs(self.fen - self.baseline_fen) <= self.band * self.baseline_fen

    def as_dict(self) -> dict[str, Any]:
        return {"fen": self.fen, "baseline_fen": self.baseline_fen, "band": self.band,
                "within_band": self.within_band, "orders": self.orders, "baseline_orders": self.baseline_orders,
                "deviation": self.deviation}  # fmt: skip


def _mean(total: int, count: int) -> int:
    """Rounded half up, in whole fen."""
    return (2 * total + count) // (2 * count) if count else 0


def average_order_value(now: datetime, band: float) -> OrderValue:
    """The last 7 days against the 28 days before them."""
    recent = Span(now - timedelta(days=AOV_DAYS), now)
    baseline = Span(recent.start - timedelta(days=AOV_BASELINE_DAYS), recent.start)
    total, count, base_total, base_count = _sums(
        Order, Order.paid_at, [(recent, Order.payable_fen), (recent, 1), (baseline, Order.payable_fen), (baseline, 1)]
    )
    return OrderValue(_mean(total, count), count, _mean(base_total, base_count), base_count, band)


# ---- funnel -----------------------------------------------------------------------------------------------------


def _stage(exposure: int, click: int, paid: int) -> dict[str, Any]:
    return {"exposure": exposure, "click": click, "paid": paid, "click_rate": ratio(click, exposure),
            "pay_rate": ratio(paid, click)}  # fmt: skip


def _paid_count(span: Span) -> int:
    return Order.select().where(span.holds(Order.paid_at)).count()


def funnel(now: datetime, days: int = 7, by_product: bool = False) -> dict[str, Any]:
    """Exposure → click → paid over the last `days` days (see the module docstring for the rates)."""
    span = Span(now - timedelta(days=days), now)
    events = dict(
        FunnelEvent.select(FunnelEvent.kind, peewee.fn.COUNT(FunnelEvent.id))
        .where(span.holds(FunnelEvent.at), FunnelEvent.kind.in_([EXPOSURE, CLICK]))
        .group_by(FunnelEvent.kind)
        .tuples()
    )
    out = {"since": span.start.isoformat(), "until": span.end.isoformat(),
           **_stage(int(events.get(EXPOSURE, 0)), int(events.get(CLICK, 0)), _paid_count(span))}  # fmt: skip
    if by_product:
        out["products"] = _funnel_by_product(span)
    return out


def _funnel_by_product(span: Span) -> list[dict[str, Any]]:
    counts: dict[int, dict[str, int]] = {}
    rows = (
        FunnelEvent.select(FunnelEvent.product_id, FunnelEvent.kind, peewee.fn.COUNT(FunnelEvent.id))
        .where(span.holds(FunnelEvent.at), FunnelEvent.kind.in_([EXPOSURE, CLICK]))
        .group_by(FunnelEvent.product_id, FunnelEvent.kind)
        .tuples()
    )
    for product_id, kind, count in rows:
        counts.setdefault(int(product_id), {})[kind] = int(count)
    paid = (
        OrderLine.select(Sku.product, peewee.fn.COUNT(peewee.fn.DISTINCT(OrderLine.order)))
        .join(Order, on=(Order.id == OrderLine.order))
        .join(Sku, on=(Sku.id == OrderLine.sku_id))
        .where(span.holds(Order.paid_at))
        .group_by(Sku.product)
        .tuples()
    )
    for product_id, count in paid:
        counts.setdefault(int(product_id), {})["paid"] = int(count)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1].get(EXPOSURE, 0), -kv[1].get(CLICK, 0), kv[0]))
    ranked = ranked[:FUNNEL_PRODUCTS]
    titles = dict(Product.select(Product.id, Product.title).where(Product.id.in_([pid for pid, _ in ranked])).tuples())
    return [{"product_id": pid, "title": titles.get(pid), **_stage(c.get(EXPOSURE, 0), c.get(CLICK, 0),
             c.get("paid", 0))} for pid, c in ranked]  # fmt: skip


# ---- payment success, cancellation, complaints ---------------------------------------------------------------------


def payment_success(now: datetime, threshold: float = 0.9) -> dict[str, dict[str, Any]]:
    """The last hour and today so far: orders created, paid, still payable; `alert` when paid/created < threshold."""
    spans = {"hour": Span(now - timedelta(hours=1), now), "today": Span(midnight(local_day(now)), now)}
    payable = (Order.status == UNPAID) & (Order.expires_at > now)
    terms: list[tuple[Span, peewee.Node | int]] = []
    for span in spans.values():
        terms += [(span, 1), (span, peewee.Case(None, [(Order.paid_at.is_null(False), 1)], 0)),
                  (span, peewee.Case(None, [(payable, 1)], 0))]  # fmt: skip
    sums = _sums(Order, Order.created_at, terms)
    out = {}
    for i, name in enumerate(spans):
        attempts, paid, pending = sums[3 * i : 3 * i + 3]
        rate = ratio(paid, attempts)
        out[name] = {"attempts": attempts, "paid": paid, "pending": pending, "rate": rate, "threshold": threshold,
                     "alert": rate is not None and paid < threshold * attempts}  # fmt: skip
    return out


def payment_success_window(now: datetime, window: timedelta, grace: timedelta) -> tuple[int, int]:
    """(orders, paid) of the orders created in [now − window, now − grace): the live alert's sample."""
    span = Span(now - window, now - grace)
    if span.end <= span.start:
        return 0, 0
    orders, paid = _sums(Order, Order.created_at,
                         [(span, 1), (span, peewee.Case(None, [(Order.paid_at.is_null(False), 1)], 0))])  # fmt: skip
    return orders, paid


@dataclass(frozen=True)
class Cancellation:
    day: date
    created: int
    cancelled: int
    open: int
    threshold: float
    by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        return ratio(self.cancelled, self.created)

    @property
    def alert(self) -> bool:
        return self.rate is not None and self.cancelled / self.created > self.threshold

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "created": self.created, "cancelled": self.cancelled,
                "rate": self.rate, "threshold": self.threshold, "alert": self.alert, "open": self.open,
                "by_reason": self.by_reason}  # fmt: skip


def cancellation(day: date, threshold: float) -> Cancellation:
    """The orders created on `day` and what became of them by now."""
    span = Span(midnight(day), midnight(day + timedelta(days=1)))
    rows = (
        Order.select(Order.status, Order.cancel_reason, peewee.fn.COUNT(Order.id))
        .where(span.holds(Order.created_at))
        .group_by(Order.status, Order.cancel_reason)
        .tuples()
    )
    created = still_open = 0
    reasons: dict[str, int] = {}
    for status, reason, count in rows:
        created += count
        if status == UNPAID:
            still_open += count
        elif reason is not None:  # only a cancellation sets a reason
            reasons[reason] = reasons.get(reason, 0) + count
    return Cancellation(day, created, sum(reasons.values()), still_open, threshold, dict(sorted(reasons.items())))


def complaint_counts(span: Span) -> tuple[int, int]:
    """(complaint tickets opened, orders paid) in the span."""
    opened = Ticket.select().where(Ticket.kind == DISPUTE, span.holds(Ticket.created_at)).count()
    return opened, _paid_count(span)


def complaints(now: datetime, threshold: float | None = None) -> dict[str, Any]:
    """This week (from Monday) so far: complaint tickets opened / orders paid (`threshold`: the alert's bound)."""
    span = Span(period_start("week", now), now)
    opened, paid = complaint_counts(span)
    return {"week_start": span.start.date().isoformat(), "complaints": opened, "paid_orders": paid,
            "rate": ratio(opened, paid), "threshold": threshold}  # fmt: skip


def snapshot(now: datetime, rules: MetricRules, *, day: date | None = None, funnel_days: int = 7,
             by_product: bool = False) -> dict[str, Any]:  # fmt: skip
    """Everything the console shows, as of `now`; the cancellation rate is `day`'s (default today); `alerts`: the
    figures' alerts, firing first, then the latest cleared (store.monitoring.watch)."""
    return {
        "as_of": now.isoformat(),
        "gmv": gmv(now),
        "average_order_value": average_order_value(now, rules.aov_band).as_dict(),
        "funnel": funnel(now, funnel_days, by_product),
        "payment_success_rate": payment_success(now, rules.payment_success_threshold),
        "cancellation_rate": cancellation(day or local_day(now), rules.cancellation_threshold).as_dict(),
        "complaint_rate": complaints(now, rules.complaint_threshold),
        "alerts": [alert_dict(alert) for alert in recent_alerts()],
    }
