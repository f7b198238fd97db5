"""Entities and Chinese numerals: what a shopper's message names besides its intent (prices in fen)."""

from __future__ import annotations

import pytest

from dialogs.understanding import Capacity, Entities, PriceRange, Quantity, extract, parse_chinese_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("一百二十", 120),
        ("两千五", 2500),
        ("1k", 1000),
        ("1.5k", 1500),
        ("2w", 20000),
        ("一打", 12),
        ("两打", 24),
        ("半打", 6),
        ("十", 10),
        ("十五", 15),
        ("二十五", 25),
        ("两百五", 250),
        ("一万五", 15000),
        ("一百零五", 105),
        ("一千零一", 1001),
        ("十万", 100000),
        ("一万二千三百四十五", 12345),
        ("二零二六", 2026),
        ("十来", 10),
        ("兩千", 2000),
        ("12", 12),
        (" 3 ", 3),
    ],
)
def test_parse_chinese_number(text: str, value: int) -> None:
    assert parse_chinese_number(text) == value


@pytest.mark.parametrize("text", ["", "abc", "两三", "一百二三", "个", "很多"])
def test_parse_chinese_number_refuses_what_is_not_one_number(text: str) -> None:
    assert parse_chinese_number(text) is None


def yuan(low: int | None, high: int | None) -> PriceRange:
    return PriceRange(None if low is None else low * 100, None if high is None else high * 100)


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("八百块的外套", yuan(640, 960)),
        ("1k左右的耳机", yuan(800, 1200)),
        ("两三百的包包", yuan(200, 300)),
        ("一两百", yuan(100, 200)),
        ("五百左右", yuan(400, 600)),
        ("200以内的红色连衣裙", yuan(None, 200)),
        ("100到200的T恤", yuan(100, 200)),
        ("100-200元", yuan(100, 200)),
        ("１００～２００块", yuan(100, 200)),
        ("不超过三百", yuan(None, 300)),
        ("预算2000", yuan(None, 2000)),
        ("三百以上的", yuan(300, None)),
        ("至少五百块", yuan(500, None)),
        ("￥99", PriceRange(7920, 11880)),
        ("三百塊以內", yuan(None, 300)),
    ],
)
def test_prices(text: str, price: PriceRange) -> None:
    assert extract(text).price == price


@pytest.mark.parametrize(
    "text",
    ["满200减30", "超过七天能退吗", "三天以内发货吗", "两件", "38码的鞋", "500ml保温杯", "第二个", "打折吗"],
)
def test_numbers_that_are_not_prices(text: str) -> None:
    assert extract(text).price is None


@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("一百", Quantity(100)),
        ("两件", Quantity(2)),
        ("一打", Quantity(12)),
        ("买两打", Quantity(24)),
        ("3个", Quantity(3)),
        ("十来个", Quantity(10, approximate=True)),
        ("两三件", Quantity(3, approximate=True)),
        ("一百二十个", Quantity(120)),
        ("要5瓶", Quantity(5)),
    ],
)
def test_quantities(text: str, quantity: Quantity) -> None:
    assert extract(text).quantity == quantity


@pytest.mark.parametrize("text", ["打折吗", "第二个", "有没有便宜一点的", "38码"])
def test_no_quantity(text: str) -> None:
    assert extract(text).quantity is None


@pytest.mark.parametrize(
    ("text", "colours"),
    [
        ("红色连衣裙", ("红色",)),
        ("有红的吗", ("红色",)),
        ("粉的有吗", ("粉色",)),
        ("要粉红色和黑色", ("粉色", "黑色")),
        ("酒红色", ("红色",)),
        ("藏青色外套", ("蓝色",)),
        ("紅色", ("红色",)),
        ("红包怎么用", ()),
        ("蓝牙耳机", ()),
        ("我要买口红", ()),
        ("网红同款", ()),
        ("黑金会员", ()),
        ("明白了", ()),
    ],
)
def test_colours(text: str, colours: tuple[str, ...]) -> None:
    assert extract(text).colours == colours


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("第二个有L码吗", ("L",)),
        ("xl的卫衣", ("XL",)),
        ("XXL", ("XXL",)),
        ("2xl", ("XXL",)),
        ("ｍ码", ("M",)),
        ("均码吗", ("均码",)),
        ("38码的鞋", ("38码",)),
        ("175/88A", ("175/88A",)),
        ("大码女装", ("大码",)),
        ("1.5L水壶", ()),
        ("hello", ()),
    ],
)
def test_sizes(text: str, sizes: tuple[str, ...]) -> None:
    assert extract(text).sizes == sizes


@pytest.mark.parametrize(
    ("text", "capacities"),
    [
        ("500ml保温杯", (Capacity(500, "ml"),)),
        ("1.5L水壶", (Capacity(1500, "ml"),)),
        ("2升", (Capacity(2000, "ml"),)),
        ("两升的锅", (Capacity(2000, "ml"),)),
        ("64G的U盘", (Capacity(64, "GB"),)),
        ("1T硬盘", (Capacity(1024, "GB"),)),
        ("10000mAh充电宝", (Capacity(10000, "mAh"),)),
        ("500g茶叶", (Capacity(500, "g"),)),
        ("5G手机", ()),
        ("T恤", ()),
    ],
)
def test_capacities(text: str, capacities: tuple[Capacity, ...]) -> None:
    assert extract(text).capacities == capacities


@pytest.mark.parametrize(
    ("text", "recipients", "occasions"),
    [
        ("送老师什么好", ("老师",), ()),
        ("给男朋友买生日礼物", ("男朋友",), ("生日",)),
        ("给我妈买点啥", ("妈妈",), ()),
        ("露营用的", (), ("露营",)),
        ("面试穿什么", (), ("面试",)),
        ("上班通勤的包", (), ("上班",)),
        ("健身房穿的", (), ("运动",)),
        ("送给孩子的", ("孩子",), ()),
        ("送礼用", (), ("送礼",)),
    ],
)
def test_recipients_and_occasions(text: str, recipients: tuple[str, ...], occasions: tuple[str, ...]) -> None:
    found = extract(text)
    assert (found.recipients, found.occasions) == (recipients, occasions)


@pytest.mark.parametrize(
    ("text", "ordinal"),
    [("第二个", 2), ("第2个有L码吗", 2), ("要第三件", 3), ("最后一个", -1), ("最后那款", -1), ("倒数第二个", -2)],
)
def test_ordinals(text: str, ordinal: int) -> None:
    assert extract(text).ordinal == ordinal


def test_order_number() -> None:
    found = extract("订单202612041200001234567890到哪了")
    assert found.order_no == "202612041200001234567890"
    assert found.price is None and found.quantity is None


@pytest.mark.parametrize(
    ("text", "superlative"),
    [
        ("最便宜的", "cheapest"),
        ("最贵的那个", "priciest"),
        ("有没有最新款", "newest"),
        ("销量最好的", "bestselling"),
        ("卖得最好的耳机", "bestselling"),
        ("便宜一点的", None),
    ],
)
def test_superlatives(text: str, superlative: str | None) -> None:
    assert extract(text).superlative == superlative


def test_everything_at_once_and_nothing_at_all() -> None:
    found = extract("想给女朋友买两件200以内的粉色XL卫衣，要销量最好的")
    assert found == Entities(
        price=yuan(None, 200),
        colours=("粉色",),
        sizes=("XL",),
        quantity=Quantity(2),
        recipients=("女朋友",),
        superlative="bestselling",
    )
    assert not extract("你好")
    assert extract("你好") == Entities()
