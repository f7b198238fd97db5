"""One function per topic, building the Chinese answer from the settings and the follower's facts.

Pure: nothing here reads the database, Redis or the clock, so the same config always gives the same answer and
a changed config a changed one. Each answer fits a phone screen (a few short lines, far below WeChat's 2,048
bytes) and ends with something the follower can reply next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dialogs.knowledge.settings import KnowledgeSettings
from store.core.money import rate_label, short_yuan, yuan
from store.orders.pricing import CUT, DISCOUNT, REDUCTION, CouponKind, Tier, describe_coupon

BROWSE = "回复“逛商城”看看商品吧～"
STACKING_ORDER = (REDUCTION, DISCOUNT, CUT)  # "满减与折扣", as shoppers say it


class Standing(Protocol):
    """Where the follower stands among the tiers (store.members.tiers.TierStanding has this shape)."""

    @property
    def tier(self) -> Tier: ...
    @property
    def next_tier(self) -> Tier | None: ...
    @property
    def missing_fen(self) -> int: ...
    @property
    def progress(self) -> float: ...


@dataclass(frozen=True)
class CouponInfo:
    """A coupon template as the answers name it: "满99减20", valid for `valid_days` once issued."""

    title: str
    valid_days: int


@dataclass(frozen=True)
class GiftStatus:
    """The follower's own new-follower gift: usable until `usable_until` (None: not now), `had` = ever issued."""

    usable_until: datetime | None
    had: bool


class FollowerFacts(Protocol):
    """What the knowledge answers need to know beyond the config."""

    def coupon_infos(self, codes: Sequence[str]) -> tuple[CouponInfo, ...]:
        """The active templates among `codes`, in that order (the gift's and the birthday coupon)."""
        ...

    def available_coupons(self, openid: str, now: datetime) -> int: ...

    def gift_status(self, openid: str, now: datetime) -> GiftStatus: ...

    def standing(self, openid: str, now: datetime) -> Standing: ...

    def points_balance(self, openid: str) -> int: ...

    def birthday(self, openid: str) -> str | None:
        """ "MM-DD", or None when the follower has not set one."""
        ...


def full_reduction(s: KnowledgeSettings) -> str | None:
    """ "满200减20", or None when the shop runs no 满减."""
    p = s.pricing
    if not p.full_reduction_fen or not p.full_reduction_threshold_fen:
        return None
    return describe_coupon(CouponKind.THRESHOLD, p.full_reduction_fen, p.full_reduction_threshold_fen)


def tier_benefits(s: KnowledgeSettings, tier: Tier) -> str:
    return {
        Tier.NORMAL: "新人礼包、生日礼",
        Tier.VIP: f"{rate_label(s.pricing.vip_rate)}、专属客服",
        Tier.BLACK_GOLD: f"{rate_label(s.pricing.black_gold_rate)}、优先购权",
    }[tier]


def stacking_rule(s: KnowledgeSettings) -> str:
    """ "满减与折扣可同享，其他优惠不可叠加" from the configured family pairs."""
    order = {family: i for i, family in enumerate(STACKING_ORDER)}
    pairs = sorted(
        "与".join(sorted(p, key=order.__getitem__)) if len(p) == 2 else f"两种{next(iter(p))}"
        for p in s.pricing.stacking
    )
    if not pairs:
        return "各类优惠不可叠加，系统自动选最省的一种"
    return f"{'、'.join(pairs)}可同享，其他优惠不可叠加"


def promotions(s: KnowledgeSettings, gift_titles: Sequence[str], gift: GiftStatus, coupons: int) -> str:
    """满减, the tier discounts, the follower's open gift and coupons."""
    reduction = full_reduction(s)
    lines = [f"🔥 满减：单笔订单{reduction}，下单自动减。" if reduction else "目前没有满减活动。"]
    lines.append(
        f"💎 会员折扣：VIP会员{rate_label(s.pricing.vip_rate)}，黑金会员{rate_label(s.pricing.black_gold_rate)}；"
        f"{stacking_rule(s)}。"
    )
    if gift.usable_until is not None and gift_titles:
        lines.append(f"🎁 您的新人礼包（{'、'.join(gift_titles)}）{gift.usable_until:%m月%d日 %H:%M}前可用。")
    if coupons:
        lines.append(f"🎫 您有{coupons}张可用优惠券，回复“我的优惠券”查看。")
    lines.append(BROWSE)
    return "\n".join(lines)


def coupon_rules(s: KnowledgeSettings, coupons: int) -> str:
    """How coupons work and combine (pricing's rules, stated for the buyer)."""
    lines = [
        "🎫 优惠券在下单结算时选用，系统会自动算出最省的用法：",
        "· 满减券按商品原价算门槛；折扣券按折扣付款；立减券直接减钱。",
        f"· {stacking_rule(s)}；同类券每单限用一张。",
        f"· 积分可与所有优惠同时使用，最多抵订单金额的{s.pricing.points_max_share:.0%}。",
    ]
    mine = f"您有{coupons}张可用优惠券，" if coupons else ""
    lines.append(f"{mine}回复“我的优惠券”查看。")
    return "\n".join(lines)


def gift(s: KnowledgeSettings, gift_titles: Sequence[str], mine: GiftStatus) -> str:
    """The new-follower gift, and whether the follower's own is still open."""
    if not gift_titles:
        return f"目前没有新人礼包活动。{BROWSE}"
    lines = [
        f"🎁 新人礼包：{'、'.join(gift_titles)}，首次关注自动发放，{s.gift_claim_hours}小时内下单可用，每人限一次。"
    ]
    if mine.usable_until is not None:
        lines.append(f"您的礼包还能用到{mine.usable_until:%m月%d日 %H:%M}，别错过～回复“我的优惠券”查看。")
    elif mine.had:
        lines.append("您的新人礼包已经用过或已过期。回复“有什么活动”看看其他优惠。")
    else:
        lines.append(BROWSE)
    return "\n".join(lines)


def tiers(s: KnowledgeSettings, mine: Standing | None) -> str:
    """The three tiers with their thresholds and benefits, and the follower's way to the next one."""
    year = s.year_label
    lines = [
        "💎 会员等级：",
        f"· {Tier.NORMAL.label}：关注即享，{tier_benefits(s, Tier.NORMAL)}",
        f"· {Tier.VIP.label}：累计消费满{short_yuan(s.vip_spend_fen)}，{tier_benefits(s, Tier.VIP)}",
        f"· {Tier.BLACK_GOLD.label}：{year}消费满{short_yuan(s.black_gold_annual_spend_fen)}，"
        f"{tier_benefits(s, Tier.BLACK_GOLD)}",
    ]
    if mine is None:
        lines.append(BROWSE)
    elif mine.next_tier is None:
        keep = short_yuan(s.black_gold_annual_spend_fen)
        lines.append(f"您已是{mine.tier.label}，{year}消费保持{keep}以上即可保留。{BROWSE}")
    else:
        within = year if mine.next_tier == Tier.BLACK_GOLD else ""
        lines.append(
            f"您是{mine.tier.label}，{within}再消费{yuan(mine.missing_fen)}可升{mine.next_tier.label}"
            f"（进度{mine.progress:.0%}）。{BROWSE}"
        )
    return "\n".join(lines)


def birthday(s: KnowledgeSettings, coupon: CouponInfo | None, day: str | None) -> str:
    """The birthday gift, and whether the follower told us their birthday (`day` is "MM-DD")."""
    if coupon is not None:
        first = (
            f"🎂 生日福利：生日当天{s.birthday_sweep_at}起，「{coupon.title}」自动放进您的账户，"
            f"{coupon.valid_days}天内下单可用。"
        )
    else:
        first = "🎂 生日当天我们会送上祝福。"
    if day:
        month, date = (int(part) for part in day.split("-"))
        return f"{first}\n您的生日是{month}月{date}日，到时记得来看看～{BROWSE}"
    return f"{first}\n您还没有告诉我们生日，回复“设置生日”即可设置。"


def points(s: KnowledgeSettings, balance: int | None) -> str:
    """Earning, spending and expiry of points, with the follower's balance."""
    p = s.pricing
    earn = f"每消费1元得{s.points_earn_per_yuan}积分" if s.points_earn_per_yuan else "暂不通过消费发放积分"
    lines = [
        "💰 积分规则：",
        f"· 获得：{earn}，付款后到账。",
        f"· 使用：{p.points_per_yuan}积分抵1元，结算确认时回复“用积分”抵扣，最多抵订单金额的{p.points_max_share:.0%}。",
        f"· 有效期：获得后{s.points_valid_days}天，到期前{s.points_reminder_days}天提醒您。",
    ]
    if balance:
        lines.append(f"您现在有{balance}积分，可抵{yuan(p.points_to_fen(balance))}。{BROWSE}")
    else:
        lines.append(f"您现在还没有积分，下单就能攒～{BROWSE}")
    return "\n".join(lines)


SUBSIDY_PAID = {"points": "以积分发放", "coupon": "以补偿券发放", "refund": "随退款退回", "transfer": "转账给您"}


def return_policy(s: KnowledgeSettings) -> str:
    """The after-sales promise: the no-reason window, the answer SLAs, the compensation (运费险补贴, 包邮换货)."""
    lines = ["↩️ 售后政策："]
    if s.no_reason_return_days:
        lines.append(f"· 收货后{s.no_reason_return_days}天内支持无理由退货（商品完好、不影响二次销售）。")
    if s.return_subsidy_fen:
        paid = SUBSIDY_PAID.get(s.return_subsidy_method, "")
        lines.append(f"· 退货审核通过补贴运费{yuan(s.return_subsidy_fen)}（{paid}）；换货审核通过后新商品包邮寄出。")
    lines += [
        f"· 退货、退款申请{s.answer_hours}小时内答复；换货{s.exchange_hours}小时内审核；"
        f"投诉{s.dispute_max_working_days}个工作日内处理完毕。",
        f"· 付款{s.after_sales_days}天内的订单可以直接在这里申请。",
        "回复“退货”“换货”或“退款”即可申请。",
    ]
    return "\n".join(lines)


def shipping(s: KnowledgeSettings) -> str:
    """When orders ship and what the follower hears about them."""
    return "\n".join(
        [
            f"🚚 付款后{s.ship_within_hours}小时内发货，物流每有变化都会通知您。",
            f"· 下单后请在{s.unpaid_timeout_minutes}分钟内付款，超时订单自动取消。",
            "· 虚拟商品无需快递。",
            "回复“查快递”看看您的包裹到哪了。",
        ]
    )
