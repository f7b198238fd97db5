"""Pricing: one pure function from (lines, tier, coupons, points, rules, now) to a `PricedOrder` that explains
every adjustment — applied or not — in Chinese, for the checkout confirmation and the order detail.

Rules (all amounts integer fen; `PricingRules` carries the `[shop]` values):

1. **Subtotal** = Σ unit price × quantity, at list price.
2. **Thresholds** (满减活动 "满200减20", 满减券 "满300减30", a coupon's 门槛) compare against the subtotal at list
   price, before any discount — so a member discount never costs a buyer a 满减 they see on the price tags.
3. **Rates first** (会员折扣 VIP 95折 / 黑金 88折, 折扣券 9折): applied to each line and rounded **half up per line**
   (`store.core.money.times_rate_half_up`), so a line's discounted amount is a whole number of fen and partial refunds
   by line are exact. Two rates (only if the stacking rules allow 折扣+折扣) apply one after the other, each
   rounded per line.
4. **Amounts next** (满减活动, then 满减券, then 立减券): subtracted from the running total, each clipped so the
   total never drops below `min_payable_fen` (1 fen: WeChat Pay cannot take 0; a clipped reduction says so).
5. **Points last**: `points_per_yuan` points = 1 yuan; at most `points_max_share` of the amount left after
   discounts (rounded down), and never below `min_payable_fen`. Only whole fen are bought: the points charged are
   the fewest that pay that many fen (with 100 points = 1 yuan, 1 point = 1 fen).
6. **Stacking**: every promotion and coupon belongs to a family — 折扣 (member discount, percent coupon), 满减
   (full reduction, threshold coupon) or 立减 (fixed coupon). Two of them may be used together only when their
   family pair is listed in `stacking` (default `满减+折扣`); everything else is exclusive, and at most one coupon
   of each kind is used. Among the allowed combinations the one that saves the buyer most is chosen (ties: fewer
   coupons, so the buyer keeps the rest); whatever is left out is explained ("与…不可同享"). Points are payment,
   not a promotion: they combine with everything.
7. The payable amount is never below `min_payable_fen` (and never below zero); each line's share of every
   reduction and of the points is allocated in proportion to its discounted amount (largest remainder), so
   `sum(line.paid_fen) == payable_fen`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from store.core.money import rate_label, short_yuan, times_rate_floor, times_rate_half_up, to_rate, yuan


class Tier(StrEnum):
    NORMAL = "normal"
    VIP = "vip"
    BLACK_GOLD = "black_gold"

    @property
    def label(self) -> str:
        return {"normal": "普通会员", "vip": "VIP会员", "black_gold": "黑金会员"}[self.value]


class CouponKind(StrEnum):
    FIXED = "fixed"  # 立减券: value fen off (threshold optional)
    PERCENT = "percent"  # 折扣券: pay value% (90 = 9折) of each line (threshold optional)
    THRESHOLD = "threshold"  # 满减券: value fen off an order of at least threshold_fen

    @property
    def label(self) -> str:
        return {"fixed": "立减券", "percent": "折扣券", "threshold": "满减券"}[self.value]


DISCOUNT, REDUCTION, CUT = "折扣", "满减", "立减"
FAMILIES = (DISCOUNT, REDUCTION, CUT)
_FAMILY = {CouponKind.PERCENT: DISCOUNT, CouponKind.THRESHOLD: REDUCTION, CouponKind.FIXED: CUT}


class PricingError(ValueError):
    """The lines cannot be priced (no lines, a quantity that is not a positive integer, a negative price)."""


def parse_stacking(pairs: Iterable[str]) -> frozenset[frozenset[str]]:
    """`["满减+折扣"]` → {{"满减", "折扣"}}; `"折扣+折扣"` lets two discounts combine. Raises ValueError."""
    allowed: set[frozenset[str]] = set()
    for pair in pairs:
        left, plus, right = pair.replace(" ", "").partition("+")
        if not plus or left not in FAMILIES or right not in FAMILIES:
            raise ValueError(f"stacking pair {pair!r} is not X+Y with X, Y in {'/'.join(FAMILIES)}")
        allowed.add(frozenset((left, right)))
    return frozenset(allowed)


@dataclass(frozen=True)
class PricingRules:
    vip_rate: Decimal = Decimal("0.95")
    black_gold_rate: Decimal = Decimal("0.88")
    full_reduction_threshold_fen: int = 20000
    full_reduction_fen: int = 2000
    points_per_yuan: int = 100
    points_max_share: Decimal = Decimal("0.5")
    stacking: frozenset[frozenset[str]] = frozenset({frozenset((REDUCTION, DISCOUNT))})
    min_payable_fen: int = 1

    @classmethod
    def from_settings(cls, shop: Any) -> PricingRules:
        """From the `[shop]` config section (any object with its attribute names; store does not import bot)."""
        return cls(
            vip_rate=to_rate(shop.vip_discount),
            black_gold_rate=to_rate(shop.black_gold_discount),
            full_reduction_threshold_fen=int(shop.full_reduction_threshold_fen),
            full_reduction_fen=int(shop.full_reduction_fen),
            points_per_yuan=int(shop.points_per_yuan),
            points_max_share=to_rate(shop.points_max_share),
            stacking=parse_stacking(getattr(shop, "stacking", ("满减+折扣",))),
        )

    def tier_rate(self, tier: Tier) -> Decimal:
        return {Tier.VIP: self.vip_rate, Tier.BLACK_GOLD: self.black_gold_rate}.get(tier, Decimal(1))

    def combinable(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self.stacking

    def points_to_fen(self, points: int) -> int:
        return points * 100 // self.points_per_yuan

    def fen_to_points(self, fen: int) -> int:
        """The fewest points worth `fen` (ceil), so a buyer never pays more points than the fen they get."""
        return -(-fen * self.points_per_yuan // 100)


@dataclass(frozen=True)
class PriceLine:
    sku_id: int
    title: str
    unit_price_fen: int
    quantity: int

    @property
    def subtotal_fen(self) -> int:
        return self.unit_price_fen * self.quantity


@dataclass(frozen=True)
class CouponOffer:
    """A coupon the buyer picked, as pricing needs it. `unavailable` carries the store's reason it cannot be used
    at all (not the buyer's, already used, locked by another order); pricing checks expiry and threshold."""

    code: str
    kind: CouponKind
    value: int
    threshold_fen: int = 0
    title: str = ""
    expires_at: datetime | None = None
    unavailable: str | None = None

    @property
    def family(self) -> str:
        return _FAMILY[self.kind]

    @property
    def name(self) -> str:
        return f"{self.kind.label}「{self.title or describe_coupon(self.kind, self.value, self.threshold_fen)}」"


def describe_coupon(kind: CouponKind, value: int, threshold_fen: int = 0) -> str:
    """满300减30 / 无门槛减10元 / 满100打9折 / 9折."""
    if kind is CouponKind.PERCENT:
        text = rate_label(Decimal(value) / 100)
        return f"满{short_yuan(threshold_fen)}打{text}" if threshold_fen else text
    if threshold_fen:
        return f"满{short_yuan(threshold_fen).removesuffix('元')}减{short_yuan(value).removesuffix('元')}"
    return f"无门槛减{short_yuan(value)}"


@dataclass(frozen=True)
class Adjustment:
    """One promotion, coupon or points use, applied or not, with the reason shown to the buyer."""

    kind: str  # "tier" | "full_reduction" | "coupon" | "points"
    label: str
    applied: bool
    amount_fen: int
    reason: str
    coupon_code: str | None = None


@dataclass(frozen=True)
class PricedLine:
    line: PriceLine
    subtotal_fen: int
    discounted_fen: int  # after the rates (member discount, percent coupon)
    paid_fen: int  # after every reduction and the points: what a full refund of this line returns


@dataclass(frozen=True)
class PricedOrder:
    lines: tuple[PricedLine, ...]
    subtotal_fen: int
    adjustments: tuple[Adjustment, ...]
    points_used: int
    points_fen: int
    payable_fen: int
    tier: Tier

    @property
    def discount_fen(self) -> int:
        """Everything taken off by promotions and coupons (points are payment, not counted here)."""
        return sum(a.amount_fen for a in self.adjustments if a.applied and a.kind != "points")

    @property
    def coupon_codes_used(self) -> tuple[str, ...]:
        return tuple(a.coupon_code for a in self.adjustments if a.applied and a.coupon_code)

    def explanation(self) -> list[str]:
        """The confirmation text, one line each: what applied (with the amount) and what did not, and why."""
        out = [f"商品合计 {yuan(self.subtotal_fen)}"]
        for a in self.adjustments:
            amount = f" -{yuan(a.amount_fen)}" if a.applied else ""
            out.append(f"{'✓' if a.applied else '✗'} {a.label}{amount}：{a.reason}")
        out.append(f"应付 {yuan(self.payable_fen)}")
        return out


@dataclass
class _Candidate:
    kind: str  # "tier" | "full_reduction" | "coupon"
    family: str
    label: str
    rate: Decimal | None = None  # for 折扣
    amount_fen: int = 0  # for 满减 / 立减
    offer: CouponOffer | None = None
    index: int = 0

    @property
    def coupon_kind(self) -> CouponKind | None:
        return self.offer.kind if self.offer else None


@dataclass
class _Outcome:
    """One combination's arithmetic: amounts per candidate and each line after the rates."""

    chosen: tuple[_Candidate, ...]
    saved: dict[int, int] = field(default_factory=dict)  # candidate index → fen
    clipped: set[int] = field(default_factory=set)
    line_amounts: list[int] = field(default_factory=list)
    total: int = 0

    @property
    def discount(self) -> int:
        return sum(self.saved.values())


def price_order(
    lines: Sequence[PriceLine],
    tier: Tier,
    coupons: Sequence[CouponOffer],
    points_to_use: int,
    rules: PricingRules,
    now: datetime,
) -> PricedOrder:
    """Price an order; see the module docstring for the rules. Pure: no database, no clock but `now`."""
    _check_lines(lines)
    if not isinstance(points_to_use, int) or points_to_use < 0:
        raise PricingError(f"points must be a non-negative integer, got {points_to_use!r}")
    subtotal = sum(line.subtotal_fen for line in lines)
    adjustments: dict[int, Adjustment] = {}
    candidates: list[_Candidate] = []

    def slot() -> int:
        return len(adjustments) + len(candidates)

    rate = rules.tier_rate(tier)
    if rate < 1:
        candidates.append(_Candidate("tier", DISCOUNT, f"{tier.label}{rate_label(rate)}", rate=rate, index=slot()))
    if rules.full_reduction_fen > 0:
        threshold, off = rules.full_reduction_threshold_fen, rules.full_reduction_fen
        label = f"满{short_yuan(threshold)}减{short_yuan(off)}"
        if subtotal >= threshold:
            candidates.append(_Candidate("full_reduction", REDUCTION, label, amount_fen=off, index=slot()))
        else:
            reason = f"还差{yuan(threshold - subtotal)}即可享受{label}"
            adjustments[slot()] = Adjustment("full_reduction", label, False, 0, reason)
    for offer in coupons:
        refusal = _coupon_refusal(offer, subtotal, now)
        if refusal:
            adjustments[slot()] = Adjustment("coupon", offer.name, False, 0, refusal, offer.code)
            continue
        candidate = _Candidate("coupon", offer.family, offer.name, offer=offer, index=slot())
        if offer.kind is CouponKind.PERCENT:
            candidate.rate = Decimal(offer.value) / 100
        else:
            candidate.amount_fen = offer.value
        candidates.append(candidate)

    best = _best_combination(lines, candidates, rules)
    for candidate in candidates:
        adjustments[candidate.index] = _explain(candidate, best, rules)

    points_adjustment, points_used, points_fen = _points(best.total, points_to_use, rules)
    if points_adjustment is not None:
        adjustments[slot()] = points_adjustment
    payable = best.total - points_fen
    paid = _allocate(best.line_amounts, sum(best.line_amounts) - payable)
    priced_lines = tuple(
        PricedLine(line, line.subtotal_fen, discounted, discounted - share)
        for line, discounted, share in zip(lines, best.line_amounts, paid, strict=True)
    )
    return PricedOrder(
        lines=priced_lines,
        subtotal_fen=subtotal,
        adjustments=tuple(adjustments[i] for i in sorted(adjustments)),
        points_used=points_used,
        points_fen=points_fen,
        payable_fen=payable,
        tier=tier,
    )


def _check_lines(lines: Sequence[PriceLine]) -> None:
    if not lines:
        raise PricingError("an order needs at least one line")
    for line in lines:
        if not isinstance(line.quantity, int) or isinstance(line.quantity, bool) or line.quantity <= 0:
            raise PricingError(f"quantity must be a positive integer, got {line.quantity!r}")
        if not isinstance(line.unit_price_fen, int) or line.unit_price_fen < 0:
            raise PricingError(f"price must be a non-negative integer number of fen, got {line.unit_price_fen!r}")


def _coupon_refusal(offer: CouponOffer, subtotal: int, now: datetime) -> str | None:
    if offer.unavailable:
        return offer.unavailable
    if offer.expires_at is not None and offer.expires_at <= now:
        return f"已于{offer.expires_at:%Y-%m-%d %H:%M}过期"
    if offer.kind is CouponKind.PERCENT and not 0 < offer.value < 100:
        return "折扣券面额无效"
    if offer.kind is not CouponKind.PERCENT and offer.value <= 0:
        return "优惠券面额无效"
    if subtotal < offer.threshold_fen:
        return f"还差{yuan(offer.threshold_fen - subtotal)}才能使用（满{yuan(offer.threshold_fen)}可用）"
    return None


def _compatible(a: _Candidate, b: _Candidate, rules: PricingRules) -> bool:
    if a.coupon_kind is not None and a.coupon_kind == b.coupon_kind:
        return False  # at most one coupon of a kind, whatever the stacking rules say
    return rules.combinable(a.family, b.family)


def _run(lines: Sequence[PriceLine], chosen: tuple[_Candidate, ...], rules: PricingRules) -> _Outcome:
    outcome = _Outcome(chosen)
    amounts = [line.subtotal_fen for line in lines]
    for c in sorted((c for c in chosen if c.rate is not None), key=lambda c: c.index):
        before = sum(amounts)
        amounts = [times_rate_half_up(a, c.rate) for a in amounts]  # type: ignore[arg-type]
        outcome.saved[c.index] = before - sum(amounts)
    total = sum(amounts)
    order = {"full_reduction": 0, CouponKind.THRESHOLD: 1, CouponKind.FIXED: 2}
    reductions = sorted(
        (c for c in chosen if c.rate is None), key=lambda c: (order[c.coupon_kind or c.kind], c.index)
    )
    for c in reductions:
        room = max(0, total - rules.min_payable_fen)
        off = min(c.amount_fen, room)
        if off < c.amount_fen:
            outcome.clipped.add(c.index)
        outcome.saved[c.index] = off
        total -= off
    outcome.line_amounts = amounts
    outcome.total = total
    return outcome


def _best_combination(lines: Sequence[PriceLine], candidates: list[_Candidate], rules: PricingRules) -> _Outcome:
    """Try every allowed combination (a handful of candidates: at most 2^5) and keep the buyer's best."""
    best: _Outcome | None = None
    best_key: tuple[int, int, int, tuple[int, ...]] | None = None  # (-saved, coupons, -automatic, indices)
    for size in range(len(candidates) + 1):
        for combo in itertools.combinations(candidates, size):
            if not all(_compatible(a, b, rules) for a, b in itertools.combinations(combo, 2)):
                continue
            outcome = _run(lines, combo, rules)
            coupons_used = sum(1 for c in combo if c.offer is not None)
            automatic = size - coupons_used  # on a tie, apply the member discount / 满减 rather than drop them
            key = (-outcome.discount, coupons_used, -automatic, tuple(c.index for c in combo))
            if best_key is None or key < best_key:
                best, best_key = outcome, key
    assert best is not None  # the empty combination is always allowed
    return best


def _explain(candidate: _Candidate, best: _Outcome, rules: PricingRules) -> Adjustment:
    code = candidate.offer.code if candidate.offer else None
    if candidate in best.chosen:
        saved = best.saved[candidate.index]
        if candidate.kind == "tier":
            reason = f"会员专享{rate_label(candidate.rate)}，省{yuan(saved)}"  # type: ignore[arg-type]
            if saved == 0:
                reason = f"会员专享{rate_label(candidate.rate)}（金额太小，按分四舍五入后没有变化）"  # type: ignore[arg-type]
        elif candidate.kind == "full_reduction":
            reason = f"商品原价满{short_yuan(rules.full_reduction_threshold_fen)}，立减{yuan(saved)}"
        else:
            reason = f"已使用，优惠{yuan(saved)}"
        if candidate.index in best.clipped:
            reason += f"（实付最低{yuan(rules.min_payable_fen)}，只抵扣了{yuan(saved)}）"
        return Adjustment(candidate.kind, candidate.label, True, saved, reason, code)
    rival = next((c for c in best.chosen if not _compatible(candidate, c, rules)), None)
    if rival is None and best.total <= rules.min_payable_fen:
        reason = f"订单已到最低实付{yuan(rules.min_payable_fen)}，无需再用"
    elif rival is None:
        reason = "本单使用后没有更多优惠，已为您保留"
    elif candidate.offer is not None and rival.offer is not None and candidate.offer.kind == rival.offer.kind:
        reason = f"同类优惠券每单限用一张，已为您选择更优惠的{rival.label}"
    else:
        reason = f"与{rival.label}不可同享，已为您选择更优惠的组合"
    return Adjustment(candidate.kind, candidate.label, False, 0, reason, code)


def _points(total: int, requested: int, rules: PricingRules) -> tuple[Adjustment | None, int, int]:
    if requested == 0:
        return None, 0, 0
    label = f"积分抵现（{rules.points_per_yuan}积分=1元）"
    cap = min(times_rate_floor(total, rules.points_max_share), max(0, total - rules.min_payable_fen))
    fen = min(rules.points_to_fen(requested), cap)
    if fen <= 0:
        reason = "本单金额太小，不能使用积分" if cap <= 0 else f"{requested}积分不足1分钱，无法抵扣"
        return Adjustment("points", label, False, 0, reason), 0, 0
    points = rules.fen_to_points(fen)
    reason = f"使用{points}积分抵{yuan(fen)}"
    if fen < rules.points_to_fen(requested):
        share = f"{(rules.points_max_share * 100).normalize():f}%"
        reason += f"（积分最多抵扣订单金额的{share}，本单最多可用{rules.fen_to_points(cap)}积分）"
    return Adjustment("points", label, True, fen, reason), points, fen


def _allocate(weights: list[int], amount: int) -> list[int]:
    """Split `amount` over lines in proportion to `weights` (largest remainder; ties to the earlier line)."""
    total = sum(weights)
    if amount <= 0 or total <= 0:
        return [0] * len(weights)
    shares = [amount * w // total for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in remainders[: amount - sum(shares)]:
        shares[i] += 1
    return shares
