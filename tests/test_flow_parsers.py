"""The other flows' parsers as pure functions (checkout's are in test_checkout_parsers): no Redis, no database."""

from __future__ import annotations

import pytest

from dialogs.flows.after_sales import DISPUTE, EXCHANGE, REFUND, RETURN, kind_in
from dialogs.flows.birthday import validate_birthday


@pytest.mark.parametrize(
    ("text", "found"),
    [("5月20日", (5, 20)), ("05-20", (5, 20)), ("5/20", (5, 20)), ("1990年5月20日", (5, 20)), ("2月29号", (2, 29)),
     ("我的生日是12.31", (12, 31)), ("三月十五日", (3, 15)), ("十二月三号", (12, 3)), ("五月二十", (5, 20)),
     ("一九九〇年十月三十一日", (10, 31)), ("生日是二月二十九", (2, 29))],
)  # fmt: skip
def test_birthdays_in_the_ways_people_write_them(text: str, found: tuple[int, int]) -> None:
    assert validate_birthday(text) == found


@pytest.mark.parametrize("text", ["2月30日", "13月1日", "0月5日", "明天", "", "二月三十日", "十三月一日", "五月"])
def test_what_is_not_a_calendar_date(text: str) -> None:
    assert validate_birthday(text) is None


@pytest.mark.parametrize(
    ("norm", "kind"),
    [("我要换货", EXCHANGE), ("想换个尺码", EXCHANGE), ("退货", RETURN), ("申请退款", REFUND), ("把钱退钱给我", REFUND),
     ("我要投诉", DISPUTE), ("你好", None), ("", None)],
)  # fmt: skip
def test_after_sales_kinds_from_the_words(norm: str, kind: str | None) -> None:
    assert kind_in(norm) == kind
