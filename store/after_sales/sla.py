"""SLA clocks in Asia/Shanghai: plain hours, or working days (Monday to Friday, minus configured holidays).

Working-day decision: a clock started on a working day ends the same time of day N working days later (Friday
15:00 + 3 → Wednesday 15:00); one started on a weekend or holiday starts at 00:00 of the next working day
(Saturday 10:00 + 3 → Thursday 00:00). Make-up working weekends (调休) are not modelled: list only holidays.
Pure functions of their arguments, tested with fixed datetimes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime, timedelta

from store.core.clock import SHANGHAI


def parse_holidays(values: Iterable[str]) -> frozenset[date]:
    """`["2026-10-01", …]` → dates; `ValueError` naming the bad value."""
    out = set()
    for value in values:
        try:
            out.add(date.fromisoformat(value.strip()))
        except ValueError:
            raise ValueError(f"holiday {value!r} is not a date like 2026-10-01") from None
    return frozenset(out)


def is_working_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: datetime, days: int, holidays: Collection[date] = ()) -> datetime:
    """`start` + `days` working days (see the module docstring); aware in, aware (Asia/Shanghai) out."""
    if start.tzinfo is None:
        raise ValueError("add_working_days needs an aware datetime")
    local = start.astimezone(SHANGHAI)
    if not is_working_day(local.date(), holidays):
        day = local.date() + timedelta(days=1)
        while not is_working_day(day, holidays):
            day += timedelta(days=1)
        local = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    day, counted = local.date(), 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day, holidays):
            counted += 1
    return datetime.combine(day, local.timetz())
