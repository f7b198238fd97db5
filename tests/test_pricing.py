"""Pricing: every stacking combination and rounding edge, table-driven, plus invariants over random carts."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from store.core.clock import SHANGHAI
from store.core.money import parse_yuan, rate_label, short_yuan, times_rate_half_up, yuan
from store.orders.pricing import (
    CouponKind,
    CouponOffer,
    PriceLine,
    PricingError,
    PricingRules,
    Tier,
    parse_stacking,
    price_order,
)

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
RULES = PricingRules()  # VIP 95折, 黑金 88折, 满200减20, 100 points = 1 yuan, points ≤ 50 %, 满减+折扣 combine


def cart(*yuan_each: float, qty: int = 1) -> list[PriceLine]:
    return [PriceLine(i + 1, f"商品{i + 1}", round(y * 100), qty) for i, y in enumerate(yuan_each)]


def fixed(yuan_off: int, code: str = "F", threshold: int = 0) -> CouponOffer:
    return CouponOffer(code, CouponKind.FIXED, yuan_off * 100, threshold * 100)


def percent(paid: int, code: str = "P", threshold: int = 0) -> CouponOffer:
    return CouponOffer(code, CouponKind.PERCENT, paid, threshold * 100)


def minus(threshold: int, off: int, code: str = "T") -> CouponOffer:
    return CouponOffer(code, CouponKind.THRESHOLD, off * 100, threshold * 100)


def rules(*stacking: str, **changes: object) -> PricingRules:
    return replace(RULES, stacking=parse_stacking(stacking), **changes)  # type: ignore[arg-type]


# (case, lines, tier, coupons, points, rules, payable fen, applied adjustment labels/codes)
CASES = [
    ("nothing applies under the threshold", cart(100), Tier.NORMAL, [], 0, RULES, 10000, []),
    ("full reduction at exactly the threshold", cart(200), Tier.NORMAL, [], 0, RULES, 18000, ["full_reduction"]),
    ("VIP discount + full reduction combine (满减+折扣)", cart(200), Tier.VIP, [], 0, RULES, 17000,
     ["tier", "full_reduction"]),
    ("黑金 88折 + full reduction", cart(300), Tier.BLACK_GOLD, [], 0, RULES, 24400, ["tier", "full_reduction"]),
    ("threshold is on list price: VIP discount does not lose 满减", cart(205), Tier.VIP, [], 0, RULES, 17475,
     ["tier", "full_reduction"]),
    ("percent coupon beats the VIP discount (same family, exclusive)", cart(300), Tier.VIP, [percent(90)], 0, RULES,
     25000, ["full_reduction", "P"]),
    ("VIP discount beats a worse percent coupon", cart(300), Tier.VIP, [percent(98)], 0, RULES, 26500,
     ["tier", "full_reduction"]),
    ("threshold coupon beats full reduction (same family), stacks with VIP", cart(300), Tier.VIP, [minus(300, 50)],
     0, RULES, 23500, ["tier", "T"]),
    ("fixed coupon alone under the threshold", cart(150), Tier.NORMAL, [fixed(10)], 0, RULES, 14000, ["F"]),
    ("full reduction beats a smaller fixed coupon (立减 exclusive)", cart(250), Tier.NORMAL, [fixed(10)], 0, RULES,
     23000, ["full_reduction"]),
    ("a bigger fixed coupon beats full reduction", cart(250), Tier.NORMAL, [fixed(30)], 0, RULES, 22000, ["F"]),
    ("fixed coupon vs VIP + 满减: the combination wins", cart(250), Tier.VIP, [fixed(25)], 0, RULES, 21750,
     ["tier", "full_reduction"]),
    ("two coupons of one kind: only the better one", cart(400), Tier.NORMAL, [minus(300, 30, "T1"),
     minus(400, 60, "T2")], 0, RULES, 34000, ["T2"]),
    ("percent + threshold coupons combine; 满减活动 loses to the coupon", cart(300), Tier.NORMAL,
     [percent(90), minus(300, 30)], 0, RULES, 24000, ["P", "T"]),
    ("everything combines when configured", cart(250), Tier.VIP, [fixed(10)], 0,
     rules("满减+折扣", "立减+折扣", "立减+满减"), 20750, ["tier", "full_reduction", "F"]),
    ("nothing combines when stacking is empty: the best single one", cart(300), Tier.VIP, [], 0, rules(), 28000,
     ["full_reduction"]),
    ("折扣+折扣 applies both rates in turn, each rounded per line", cart(300), Tier.VIP, [percent(90)], 0,
     rules("满减+折扣", "折扣+折扣"), 23650, ["tier", "full_reduction", "P"]),
    ("expired coupon is explained, not used", cart(100), Tier.NORMAL,
     [replace(fixed(10), expires_at=NOW - timedelta(minutes=1))], 0, RULES, 10000, []),
    ("coupon threshold not met", cart(100), Tier.NORMAL, [fixed(10, threshold=150)], 0, RULES, 10000, []),
    ("store-side refusal is passed through", cart(100), Tier.NORMAL, [replace(fixed(10), unavailable="已经用过了")],
     0, RULES, 10000, []),
    ("points: 500 points pay 5 yuan", cart(100), Tier.NORMAL, [], 500, RULES, 9500, ["points"]),
    ("points are capped at 50 % of what is left", cart(100), Tier.NORMAL, [], 10000, RULES, 5000, ["points"]),
    ("points after discounts: cap on the discounted amount", cart(200), Tier.VIP, [], 100000, RULES, 8500,
     ["tier", "full_reduction", "points"]),
    ("a reduction never takes the total below 1 fen", cart(30), Tier.NORMAL, [fixed(50)], 0, RULES, 1, ["F"]),
    ("no points on a 1-fen order", cart(30), Tier.NORMAL, [fixed(50)], 100, RULES, 1, ["F"]),
    ("VIP on 1 fen: 0.95 fen rounds half up to 1", [PriceLine(1, "a", 1, 1)], Tier.VIP, [], 0, RULES, 1, ["tier"]),
    ("VIP on 10 fen: 9.5 rounds up to 10", [PriceLine(1, "a", 10, 1)], Tier.VIP, [], 0, RULES, 10, ["tier"]),
    ("VIP on 30 fen: 28.5 rounds up to 29", [PriceLine(1, "a", 30, 1)], Tier.VIP, [], 0, RULES, 29, ["tier"]),
    ("per-line rounding: two 10-fen lines are 10 + 10, not round(19.0)",
     [PriceLine(1, "a", 10, 1), PriceLine(2, "b", 10, 1)], Tier.VIP, [], 0, RULES, 20, ["tier"]),
    ("黑金 on 19.99 yuan: 1759.12 fen rounds down to 1759", [PriceLine(1, "a", 1999, 1)], Tier.BLACK_GOLD, [], 0,
     RULES, 1759, ["tier"]),
    ("quantity multiplies before the rate (per line, not per unit)", [PriceLine(1, "a", 333, 3)], Tier.VIP, [], 0,
     RULES, 949, ["tier"]),
]  # fmt: skip


def applied(priced) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.coupon_code or a.kind for a in priced.adjustments if a.applied]


@pytest.mark.parametrize(
    ("lines", "tier", "coupons", "points", "rules", "payable", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_pricing_table(lines, tier, coupons, points, rules, payable, expected) -> None:  # type: ignore[no-untyped-def]
    priced = price_order(lines, tier, coupons, points, rules, NOW)
    assert priced.payable_fen == payable, priced.explanation()
    assert sorted(applied(priced)) == sorted(expected), priced.explanation()
    assert priced.subtotal_fen - priced.discount_fen - priced.points_fen == priced.payable_fen
    assert sum(line.paid_fen for line in priced.lines) == priced.payable_fen
    assert all(0 <= line.paid_fen <= line.discounted_fen <= line.subtotal_fen for line in priced.lines)
    assert all(a.reason for a in priced.adjustments), "every adjustment says why"


def reasons(priced) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {a.coupon_code or a.kind: a.reason for a in priced.adjustments}


def test_explanations_say_why_each_adjustment_applied_or_not() -> None:
    priced = price_order(cart(300), Tier.VIP, [percent(90), fixed(10), minus(500, 80)], 0, RULES, NOW)
    why = reasons(priced)
    assert "不可同享" in why["tier"] and "折扣券" in why["tier"]
    assert "不可同享" in why["F"]
    assert "还差¥200.00" in why["T"]
    assert why["full_reduction"].startswith("商品原价满200元")
    text = "\n".join(priced.explanation())
    assert text.startswith("商品合计 ¥300.00") and text.endswith("应付 ¥250.00")
    assert "✓ 折扣券「9折」 -¥30.00" in text and "✗ VIP会员95折" in text


def test_explanations_for_thresholds_points_caps_and_same_kind() -> None:
    under = reasons(price_order(cart(150), Tier.NORMAL, [], 0, RULES, NOW))
    assert under["full_reduction"] == "还差¥50.00即可享受满200元减20元"
    capped = reasons(price_order(cart(100), Tier.NORMAL, [], 9000, RULES, NOW))
    assert "使用5000积分抵¥50.00" in capped["points"] and "最多抵扣订单金额的50%" in capped["points"]
    two = reasons(price_order(cart(400), Tier.NORMAL, [minus(300, 30, "T1"), minus(400, 60, "T2")], 0, RULES, NOW))
    assert "同类优惠券每单限用一张" in two["T1"]
    clipped = reasons(price_order(cart(30), Tier.NORMAL, [fixed(50)], 0, RULES, NOW))
    assert "实付最低¥0.01" in clipped["F"]


def test_ties_keep_the_coupon_for_later() -> None:
    """A coupon that saves no more than the automatic promotions is left unused (the buyer keeps it)."""
    priced = price_order(cart(250), Tier.NORMAL, [fixed(20)], 0, RULES, NOW)
    assert applied(priced) == ["full_reduction"] and priced.coupon_codes_used == ()


def test_points_conversion_uses_whole_fen_and_the_fewest_points() -> None:
    tenth = rules("满减+折扣", points_per_yuan=1000)  # 10 points = 1 fen
    priced = price_order(cart(100), Tier.NORMAL, [], 15, tenth, NOW)
    assert (priced.points_used, priced.points_fen, priced.payable_fen) == (10, 1, 9999)
    dear = rules("满减+折扣", points_per_yuan=30)  # 1 point = 3.33 fen
    priced = price_order(cart(100), Tier.NORMAL, [], 10, dear, NOW)
    assert (priced.points_used, priced.points_fen) == (10, 33)
    tiny = price_order(cart(100), Tier.NORMAL, [], 5, tenth, NOW)
    assert tiny.points_used == 0 and "不足1分钱" in reasons(tiny)["points"]


def test_reductions_and_points_are_allocated_to_lines_by_largest_remainder() -> None:
    lines = [PriceLine(1, "a", 10000, 1), PriceLine(2, "b", 10000, 1), PriceLine(3, "c", 10001, 1)]
    priced = price_order(lines, Tier.NORMAL, [], 1, RULES, NOW)  # 满减 20 yuan + 1 point over 300.01 yuan
    assert [p.paid_fen for p in priced.lines] == [9333, 9333, 9334]
    assert sum(p.paid_fen for p in priced.lines) == priced.payable_fen == 30001 - 2000 - 1


def test_invalid_input_is_refused() -> None:
    with pytest.raises(PricingError):
        price_order([], Tier.NORMAL, [], 0, RULES, NOW)
    with pytest.raises(PricingError):
        price_order([PriceLine(1, "a", 100, 0)], Tier.NORMAL, [], 0, RULES, NOW)
    with pytest.raises(PricingError):
        price_order(cart(1), Tier.NORMAL, [], -1, RULES, NOW)
    with pytest.raises(ValueError):
        parse_stacking(["满减+打折"])


def test_random_carts_keep_the_invariants() -> None:
    rng = random.Random(7)
    stackings = [(), ("满减+折扣",), ("满减+折扣", "立减+折扣", "立减+满减", "折扣+折扣")]
    for _ in range(400):
        lines = [PriceLine(i, "x", rng.choice([1, 9, 99, 1999, 5000, 19900]), rng.randint(1, 4))
                 for i in range(rng.randint(1, 4))]  # fmt: skip
        offers = rng.sample([fixed(5), fixed(300), percent(85), percent(50), minus(100, 10), minus(300, 100)], 3)
        priced = price_order(lines, rng.choice(list(Tier)), offers, rng.randint(0, 50000),
                             rules(*rng.choice(stackings)), NOW)  # fmt: skip
        assert priced.payable_fen >= 1
        assert priced.subtotal_fen - priced.discount_fen - priced.points_fen == priced.payable_fen
        assert sum(p.paid_fen for p in priced.lines) == priced.payable_fen
        assert all(0 <= p.paid_fen <= p.discounted_fen for p in priced.lines)
        kinds = [a.coupon_code for a in priced.adjustments if a.applied and a.coupon_code]
        assert len({o.kind for o in offers if o.code in kinds}) == len(kinds), "one coupon per kind"


def test_money_helpers() -> None:
    assert yuan(12345) == "¥123.45" and yuan(5) == "¥0.05" and yuan(-100) == "-¥1.00"
    assert short_yuan(20000) == "200元" and short_yuan(1990) == "¥19.90"
    assert parse_yuan("199") == 19900 and parse_yuan("199.9") == 19990 and parse_yuan("¥0.01") == 1
    for bad in ("1.001", "-1", "abc", "nan"):
        with pytest.raises(ValueError):
            parse_yuan(bad)
    assert times_rate_half_up(15, Decimal("0.5")) == 8 and times_rate_half_up(25, Decimal("0.5")) == 13
    assert rate_label(Decimal("0.95")) == "95折" and rate_label(Decimal("0.9")) == "9折"
    assert rate_label(Decimal("0.885")) == "88.5折"


def test_rules_from_config_section() -> None:
    from bot.process.config import ShopConfig

    shop = ShopConfig(vip_discount=0.9, stacking=("满减+折扣", "立减+折扣"))
    built = PricingRules.from_settings(shop)
    assert built.vip_rate == Decimal("0.9") and built.black_gold_rate == Decimal("0.88")
    assert built.combinable("立减", "折扣") and built.combinable("折扣", "满减")
    assert not built.combinable("立减", "满减")
