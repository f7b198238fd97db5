"""Reading a follow-up to the last list, and turning a refined list back into search text (pure functions)."""

from __future__ import annotations

import pytest

from dialogs.flows.refine import ListQuery, colours_of, fits, search_text
from dialogs.understanding.entities import PriceRange
from dialogs.understanding.followups import FollowUp, read_follow_up
from store.search.text import normalise, parse_price


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("便宜一点的", FollowUp(cheaper=True)),
        ("有没有更便宜的", FollowUp(cheaper=True)),
        ("别的颜色", FollowUp(other_colour=True)),
        ("有没有别的颜色", FollowUp(other_colour=True)),
        ("有红色的吗", FollowUp(colours=("红色",))),
        ("有没有黑的", FollowUp(colours=("黑色",))),
        ("有L码吗", FollowUp(sizes=("L",))),
        ("第二个有L码吗", FollowUp(ordinal=2, sizes=("L",))),
        ("这个有xl吗", FollowUp(this=True, sizes=("XL",))),
        ("第二个", FollowUp(ordinal=2)),
        ("要第一个", FollowUp(ordinal=1)),
        ("最后一个", FollowUp(ordinal=-1)),
        ("就这个", FollowUp(this=True)),
        ("三百以内的", FollowUp(price=PriceRange(None, 30000))),
        ("100到200的", FollowUp(price=PriceRange(10000, 20000))),
    ],
)
def test_follow_ups_are_read(text: str, expected: FollowUp) -> None:
    assert read_follow_up(text) == expected


@pytest.mark.parametrize(
    "text",
    ["有红色的连衣裙吗", "这个多少钱", "有红包吗", "好的", "你好", "还有吗", "2", "我要两件", "查快递", "蓝牙耳机", ""],
)
def test_messages_saying_more_than_a_follow_up_are_not_one(text: str) -> None:
    assert read_follow_up(text) is None


@pytest.mark.parametrize(
    ("query", "low", "high", "cheap"),
    [
        ("200以内的耳机", None, 20000, False),
        ("耳机", None, 18899, True),
        ("耳机", 10000, 30050, False),
        ("", 5000, None, False),
    ],
)
def test_search_text_reads_back_as_the_same_price_range(
    query: str, low: int | None, high: int | None, cheap: bool
) -> None:
    text = search_text(ListQuery(query, low, high, cheap))
    price, rest = parse_price(normalise(text))
    assert (price.min_fen, price.max_fen, price.cheap) == (low, high, cheap), text
    assert ("耳机" in rest) == bool(query) and not any(c.isdigit() for c in rest), rest


def test_cheaper_is_below_the_middle_price_shown_and_a_range_of_their_own_replaces_it() -> None:
    query = ListQuery("连衣裙").refined(FollowUp(cheaper=True), [23900, 12900, 18900, 15900, 59900])
    assert (query.high, query.cheap) == (18899, True) and query.describe() == "¥189以下"
    capped = query.refined(FollowUp(price=PriceRange(None, 30000), colours=("红色",)), [])
    assert (capped.high, capped.cheap, capped.colour) == (30000, False, "红色")
    assert capped.describe() == "¥300以内、红色"
    assert ListQuery.of({"query": "200以内的耳机"}).high == 20000


def test_a_sku_fits_by_colour_family_and_exact_size() -> None:
    assert fits("颜色:酒红色;尺码:L", "红色", "L")
    assert not fits("颜色:粉红色;尺码:L", "红色")  # 粉红 is pink
    assert not fits("颜色:红色;尺码:XL", "红色", "L")
    assert fits("颜色:黑色;尺码:38", size="38码")
    assert colours_of(["颜色:红色;尺码:M", "颜色:藏青色;尺码:L", "颜色:红色;尺码:L"]) == ["红色", "蓝色"]
