"""The coupon templates the members side issues (new-follower gift, birthday gift), checked at start-up.

A code named in `[shop] gift_coupons` or `birthday_coupon` must be an active template. The defaults below are
seeded when missing (INSERT … ON CONFLICT DO NOTHING, so concurrent start-ups are harmless); any other code
must have been created by an operator first, else the server refuses to start and says which code is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from store.core.db import write_transaction
from store.promotions.coupons import CouponTemplate, validate_template


@dataclass(frozen=True)
class DefaultTemplate:
    code: str
    title: str
    kind: str
    value: int
    threshold_fen: int
    valid_days: int


DEFAULT_TEMPLATES: dict[str, DefaultTemplate] = {
    t.code: t
    for t in (
        # the gift's validity is the claim window (gift_claim_hours), not valid_days
        DefaultTemplate("NEW20", "新人礼 满99减20", "threshold", 2000, 9900, 1),
        DefaultTemplate("NEW5", "新人礼 无门槛5元", "fixed", 500, 0, 1),
        DefaultTemplate("BDAY30", "生日礼 满199减30", "threshold", 3000, 19900, 30),
    )
}


class MemberTemplatesMissing(Exception):
    """A configured coupon template does not exist (or is inactive); the message names it and the fix."""


def seed_templates(codes: Iterable[str], now: datetime) -> None:
    """Create the configured default templates that are missing. Raises `MemberTemplatesMissing` for a code that
    is neither an active template nor a default."""
    wanted = list(dict.fromkeys(codes))
    existing = {t.code: t for t in CouponTemplate.select().where(CouponTemplate.code.in_(wanted))}
    problems = []
    for code in wanted:
        template = existing.get(code)
        if template is not None:
            if not template.active:
                problems.append(f"coupon template {code!r} is inactive")
            continue
        default = DEFAULT_TEMPLATES.get(code)
        if default is None:
            problems.append(
                f"no coupon template {code!r} (create it first, or use one of {', '.join(DEFAULT_TEMPLATES)})"
            )
            continue
        assert not validate_template(default.kind, default.value, default.threshold_fen, default.valid_days)
        with write_transaction():
            CouponTemplate.insert(
                code=code,
                title=default.title,
                kind=default.kind,
                value=default.value,
                threshold_fen=default.threshold_fen,
                valid_days=default.valid_days,
                created_at=now,
            ).on_conflict_ignore().execute()
    if problems:
        raise MemberTemplatesMissing("[shop] gift_coupons / birthday_coupon: " + "; ".join(problems))
