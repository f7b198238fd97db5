"""What a keyword rule's coupon reply says: the coupon it just gave (what it gives, until when), the one it gave
before, or why there is none. The giving is the store's (`store.promotions.keyword_coupons`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.promotions.keyword_coupons import ALREADY, GONE, ISSUED, grant_coupon


@dataclass(frozen=True)
class Recipient:
    """Who a rule's replies go to: a coupon reply gives them a coupon, once per rule."""

    openid: str
    rule: str
    now: datetime


def coupon_text(template_code: str, to: Recipient | None) -> str:
    """Without a recipient (a standing reply, a preview) it only names the template: nothing is given."""
    if to is None:
        return f"送您一张优惠券：{template_code}。回复“我的优惠券”查看。"
    grant = grant_coupon(to.openid, to.rule, template_code, to.now)
    if grant.outcome == ISSUED and grant.coupon is not None:
        return (
            f"🎁 送您一张优惠券：{grant.title}，{grant.coupon.expires_at:%m月%d日 %H:%M}前下单可用。"
            "回复“我的优惠券”查看，结算时选用。"
        )
    if grant.outcome == ALREADY:
        until = f"，{grant.coupon.expires_at:%m月%d日 %H:%M}前可用" if grant.coupon is not None else ""
        return f"您已经领过这张优惠券啦：{grant.title}{until}。回复“我的优惠券”查看。"
    if grant.outcome == GONE:
        return f"来晚了一步，{grant.title or '这张优惠券'}已经领完啦，下次早点来哦～"
    return "这个领券活动已经结束啦，回复“逛商城”看看今日好物～"
