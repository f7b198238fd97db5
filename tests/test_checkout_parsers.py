"""The checkout flow's parsers as pure functions: no Redis, no database."""

from __future__ import annotations

import pytest

from dialogs.flows.checkout import parse_address, parse_quantity
from store.orders.addresses import InvalidAddress


@pytest.mark.parametrize(
    ("text", "count"),
    [("1", 1), ("3件", 3), ("要2个", 2), ("两件", 2), ("二", 2), ("十", 10), ("十二件", 12), ("一打", 12),
     ("半打", 6), ("一百", 100), ("100", 100), ("我要三件", 3), ("来五份", 5)],
)  # fmt: skip
def test_counts_in_digits_and_chinese(text: str, count: int) -> None:
    assert parse_quantity(text) == count


@pytest.mark.parametrize("text", ["0", "零", "3.5", "很多", "随便", "好", "红色 M", "", "一百块钱的"])
def test_what_is_not_a_count(text: str) -> None:
    assert parse_quantity(text) is None


def test_an_address_in_any_order_of_name_and_phone() -> None:
    one = parse_address("张三 13812345678 广东省深圳市南山区科技园路1号")
    other = parse_address("13812345678，张三，广东省深圳市南山区科技园路1号")
    for parsed in (one, other):
        assert (parsed.name, parsed.phone) == ("张三", "13812345678")
        assert "南山区" in parsed.region and "科技园路1号" in parsed.detail


def test_an_address_without_a_phone_says_so() -> None:
    with pytest.raises(InvalidAddress) as raised:
        parse_address("张三 广东省深圳市南山区科技园路1号")
    assert "手机号" in str(raised.value.problems if hasattr(raised.value, "problems") else raised.value)
