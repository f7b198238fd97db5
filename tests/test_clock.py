"""One clock for every process of a test or demo: a clock handed down through WXSHOP_CLOCK."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from store.core.clock import (
    SHANGHAI,
    ClockSpecError,
    ManualClock,
    ShiftedClock,
    SystemClock,
    clock_from_spec,
    clock_spec,
)
from tests.support import wxshop


def test_a_manual_clock_is_handed_down_frozen_where_it_stands() -> None:
    clock = ManualClock(datetime(2031, 2, 3, 4, 5, 6, tzinfo=SHANGHAI))
    clock.advance(hours=30)
    child = clock_from_spec(clock_spec(clock))
    assert child.now() == clock.now() == datetime(2031, 2, 4, 10, 5, 6, tzinfo=SHANGHAI)


def test_a_shifted_clock_runs_at_its_offset() -> None:
    offset = timedelta(days=-400, seconds=12.5)
    child = clock_from_spec(clock_spec(ShiftedClock(offset)))
    assert isinstance(child, ShiftedClock) and child.offset == offset
    wall = SystemClock().now()
    assert abs(child.now() - (wall + offset)) < timedelta(seconds=5)


def test_no_spec_is_the_wall_clock_and_a_bare_datetime_is_frozen() -> None:
    assert isinstance(clock_from_spec(""), SystemClock)
    assert clock_spec(SystemClock()) == ""
    frozen = clock_from_spec("2030-01-01T00:00:00+08:00")
    assert frozen.now() == datetime(2030, 1, 1, tzinfo=SHANGHAI)


@pytest.mark.parametrize("spec", ["tomorrow", "frozen:2030-01-01T00:00:00", "offset:soon"])
def test_a_bad_spec_is_refused(spec: str) -> None:
    with pytest.raises(ClockSpecError, match="WXSHOP_CLOCK"):
        clock_from_spec(spec)


def test_a_command_with_a_bad_clock_says_so_in_one_line(env: dict[str, str]) -> None:
    result = wxshop("db", "status", env={**env, "WXSHOP_CLOCK": "tomorrow"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "wxshop: WXSHOP_CLOCK='tomorrow': expected frozen:<ISO datetime with offset> or offset:<seconds>"
    ]
