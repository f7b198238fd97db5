"""Money is integer fen. The only arithmetic that is not integer is a rate (a discount, a share), done in
Decimal and rounded explicitly here, so every rounding in the shop is one of these two functions."""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation


def to_rate(value: float | str | Decimal) -> Decimal:
    """A config rate such as 0.95 as an exact Decimal (through its shortest text, so 0.95 stays 0.95)."""
    rate = Decimal(str(value))
    if not Decimal(0) <= rate <= Decimal(1):
        raise ValueError(f"a rate is between 0 and 1, got {value!r}")
    return rate


def times_rate_half_up(fen: int, rate: Decimal) -> int:
    """`fen × rate`, rounded half up to whole fen (0.5 fen goes to the merchant's side: 0.95 × 1 fen = 1 fen)."""
    return int((Decimal(fen) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def times_rate_floor(fen: int, rate: Decimal) -> int:
    """`fen × rate`, rounded down: for caps, which must never be exceeded."""
    return int((Decimal(fen) * rate).to_integral_value(rounding=ROUND_FLOOR))


def yuan(fen: int) -> str:
    """`12345` → `¥123.45` (negative amounts keep their sign: `-¥1.00`)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole}.{cents:02d}"


def short_yuan(fen: int) -> str:
    """How a promotion names an amount: `20000` → `200元`, `1990` → `¥19.90`."""
    return f"{fen // 100}元" if fen % 100 == 0 else yuan(fen)


def parse_yuan(text: str) -> int:
    """`"199"`, `"199.9"`, `"199.00"` → fen; more than two decimals or a negative amount is an error."""
    try:
        amount = Decimal(text.strip().removeprefix("¥"))
    except InvalidOperation:
        raise ValueError(f"not an amount in yuan: {text!r}") from None
    fen = amount * 100
    if not amount.is_finite() or fen != fen.to_integral_value() or amount < 0:
        raise ValueError(f"not an amount in yuan with at most two decimals: {text!r}")
    return int(fen)


def rate_label(rate: Decimal) -> str:
    """0.95 → "95折", 0.9 → "9折", 0.885 → "88.5折" (how Chinese shops name a discount)."""
    tenths = rate * 10
    if tenths == tenths.to_integral_value():
        return f"{int(tenths)}折"
    hundredths = (rate * 100).normalize()
    return f"{hundredths:f}折"
