"""Prometheus metrics. With several `serve` processes the parent sets PROMETHEUS_MULTIPROC_DIR and every
process writes its samples there, so one scrape of any process sees the whole server."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("wxshop_http_requests_total", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    "wxshop_http_request_seconds",
    "Time to answer an HTTP request",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 4.5, 10),
)
ERRORS = Counter("wxshop_errors_total", "Errors caught at an edge, by where and kind", ["where", "kind"])
REJECTED = Counter("wxshop_rejected_total", "Inbound requests refused, by reason", ["reason"])
QUEUE_DEPTH = Gauge("wxshop_job_queue_depth", "Jobs waiting in the queue", multiprocess_mode="max")
# The shop's watched figures as the worker's checks last saw them (store.monitoring.watch), read from the database
# at each scrape: the newest write wins across processes. docs/alerts.yml has Prometheus rules over them.
SHOP_FIGURE = Gauge("wxshop_shop_figure", "A watched figure's last value (rates 0..1; order_value: deviation from "
                    "its baseline)", ["figure"], multiprocess_mode="mostrecent")  # fmt: skip
SHOP_THRESHOLD = Gauge("wxshop_shop_figure_threshold", "A watched figure's bound (bound=min: alert below, max: "
                       "above, band: beyond ±)", ["figure", "bound"], multiprocess_mode="mostrecent")  # fmt: skip
SHOP_SAMPLE = Gauge("wxshop_shop_figure_sample", "Orders the figure's last value stands on", ["figure"],
                    multiprocess_mode="mostrecent")  # fmt: skip
SHOP_CHECKED = Gauge("wxshop_shop_figure_checked_timestamp_seconds", "When the figure was last checked",
                     ["figure"], multiprocess_mode="mostrecent")  # fmt: skip
SHOP_ALERT = Gauge("wxshop_shop_alert_firing", "1 while the figure's alert fires (operators were told once)",
                   ["figure"], multiprocess_mode="mostrecent")  # fmt: skip


@dataclass(frozen=True)
class FigureSample:
    figure: str
    value: float | None
    threshold: float
    bound: str
    sample: int
    checked_at: float  # epoch seconds
    firing: bool


def set_shop_figures(samples: list[FigureSample]) -> None:
    """Export the figures' readings (a figure with no value, nothing to divide by, exports NaN)."""
    for s in samples:
        SHOP_FIGURE.labels(s.figure).set(float("nan") if s.value is None else s.value)
        SHOP_THRESHOLD.labels(s.figure, s.bound).set(s.threshold)
        SHOP_SAMPLE.labels(s.figure).set(s.sample)
        SHOP_CHECKED.labels(s.figure).set(s.checked_at)
        SHOP_ALERT.labels(s.figure).set(1 if s.firing else 0)


_REQUEST_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency. The labelled children are looked up once per label set and
    kept: `labels()` builds, validates and locks for every call, a visible share of a fast request's cost."""
    children = _REQUEST_CHILDREN.get((route, method, status))
    if children is None:
        children = (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route))
        if len(_REQUEST_CHILDREN) < 1024:  # method names come from clients: keep the cache bounded
            _REQUEST_CHILDREN[route, method, status] = children
    children[0].inc()
    children[1].observe(seconds)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def route_name(request: web.Request) -> str:
    """The route's pattern, not the raw path, so metrics have bounded label sets."""
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"
