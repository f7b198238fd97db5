"""The rules the nightly profile run follows: RFM edges (empty = quintiles) and the lifecycle stages' thresholds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProfileRules:
    """Scores are 1..5 (5 best), 0 for someone who never paid.

    Edges, when given, are four ascending numbers: recency in days (paid within the first edge → R 5, within the
    last edge → R 2, longer ago → R 1), frequency in payments and monetary in fen (above the last edge → 5).
    Empty edges mean quintiles: each score is the fifth of buyers the member falls in (ties share a score).

    Lifecycle, first rule that holds: never paid → 引入 (known for less than `churn_days`) or 流失; last payment
    longer ago than `churn_days` → 流失; longer ago than `lapse_days` → 衰退; at least `mature_orders` payments →
    成熟; otherwise 成长."""

    recency_days_edges: tuple[int, ...] = ()
    frequency_edges: tuple[int, ...] = ()
    monetary_fen_edges: tuple[int, ...] = ()
    mature_orders: int = 3
    lapse_days: int = 60
    churn_days: int = 180
    events_days: int = 90  # behaviour events counted (B score: quintile of the count among members with any)

    def __post_init__(self) -> None:
        for name in ("recency_days_edges", "frequency_edges", "monetary_fen_edges"):
            edges = getattr(self, name)
            if edges and (len(edges) != 4 or list(edges) != sorted(set(edges)) or edges[0] < 0):
                raise ValueError(f"{name}: expected four ascending non-negative numbers, got {list(edges)}")
        if not 0 < self.lapse_days < self.churn_days:
            raise ValueError("lapse_days must be positive and below churn_days")
        if self.mature_orders < 2:
            raise ValueError("mature_orders must be at least 2")


def parse_edges(text: str) -> tuple[int, ...]:
    """Edges as written in config: "30,60,120,240"; empty means quintiles."""
    return tuple(int(part) for part in text.replace(" ", "").split(",") if part)
