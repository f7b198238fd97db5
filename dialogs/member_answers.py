"""The members side of the conversation: "我是什么会员", "我的积分", "我的优惠券" (and "礼包"), the new-follower gift
announced in the follow reply, and the birthday greeting shown once on the member's next message.

`MemberChat` is what bot/chat/conversation.py hands the engine: its `answers()` replace the placeholders, and the
engine calls `on_follow` and `pending_greeting` (the engine's `MemberHooks`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dialogs.flows import Turn
from dialogs.intents import Intent
from dialogs.replies import ReplyLike
from store.core.money import rate_label, yuan
from store.members.accounts import ensure_member, points_balance, tier_of
from store.members.birthdays import take_greeting
from store.members.points_expiry import expiring_within
from store.members.settings import MemberSettings
from store.members.tiers import standing
from store.orders.pricing import Tier
from store.promotions import gifts
from store.promotions.coupons import available_coupons

SOURCE_LABELS = {gifts.SOURCE: "新人礼包", "birthday": "生日礼"}
EXPIRY_HINT_DAYS = 30
SHOWN_COUPONS = 10


class MemberChat:
    def __init__(self, settings: MemberSettings) -> None:
        self.settings = settings

    # -- engine hooks -----------------------------------------------------------------------------------------
    def on_follow(self, openid: str, first_time: bool, now: datetime) -> str | None:
        """Every follower is a 普通会员 from the follow; the first follow brings the gift (once, ever)."""
        ensure_member(openid, now)
        if not first_time:
            gifts.relink(openid, self.settings)
            return None
        granted = gifts.grant_gift(openid, now, self.settings)
        return granted.announcement() if granted else None

    def pending_greeting(self, openid: str, now: datetime) -> str | None:
        greeting = take_greeting(openid, now)
        return greeting.text() if greeting else None

    def agent_for(self, openid: str, now: datetime) -> str:
        """专属客服: the agent a VIP's or 黑金's transfer goes to; "" (any agent) for the others, or when none is
        configured (then nothing is read)."""
        vip = self.settings.vip_kf_account
        black_gold = self.settings.black_gold_kf_account or vip
        if not (vip or black_gold):
            return ""
        tier = tier_of(openid, now, self.settings.rules)
        return {Tier.VIP: vip, Tier.BLACK_GOLD: black_gold}.get(tier, "")

    # -- answers ----------------------------------------------------------------------------------------------
    def answers(self) -> dict[str, Callable[[Turn, Intent], ReplyLike]]:
        return {"member": self.member, "points": self.points, "coupons": self.coupons}

    def benefits(self, tier: Tier) -> str:
        pricing = self.settings.pricing
        return {
            Tier.NORMAL: "新人礼包、生日礼",
            Tier.VIP: f"{rate_label(pricing.vip_rate)}、专属客服",
            Tier.BLACK_GOLD: f"{rate_label(pricing.black_gold_rate)}、优先购权",
        }[tier]

    def member(self, turn: Turn, intent: Intent) -> ReplyLike:
        rules = self.settings.rules
        year = "今年" if rules.tier_year == "calendar" else "近一年"
        mine = standing(turn.openid, turn.now, rules)
        lines = [
            f"您是{mine.tier.label}，享{self.benefits(mine.tier)}。",
            f"累计消费{yuan(mine.total_fen)}，{year}消费{yuan(mine.annual_fen)}。",
        ]
        if mine.next_tier == Tier.VIP:
            lines.append(
                f"再消费{yuan(mine.missing_fen)}即可升级{Tier.VIP.label}，享{self.benefits(Tier.VIP)}"
                f"（进度{mine.progress:.0%}）。"
            )
        elif mine.next_tier == Tier.BLACK_GOLD:
            lines.append(
                f"{year}再消费{yuan(mine.missing_fen)}即可升级{Tier.BLACK_GOLD.label}，享{self.benefits(Tier.BLACK_GOLD)}"
                f"（进度{mine.progress:.0%}）。"
            )
        else:
            keep = yuan(rules.black_gold_annual_spend_fen)
            lines.append(f"{year}消费保持在{keep}以上即可保留{Tier.BLACK_GOLD.label}。")
        return "\n".join(lines)

    def points(self, turn: Turn, intent: Intent) -> ReplyLike:
        pricing = self.settings.pricing
        balance = points_balance(turn.openid)
        worth = pricing.points_to_fen(balance)
        text = (
            f"您有{balance}积分，可抵{yuan(worth)}。{pricing.points_per_yuan}积分抵1元，结算确认时回复“用积分”即可抵扣"
            f"（最多抵订单金额的{pricing.points_max_share:.0%}）。"
        )
        soon = expiring_within(turn.openid, turn.now, EXPIRY_HINT_DAYS) if balance > 0 else None  # none to lapse
        if soon is not None and soon.points and soon.first_at is not None:
            text += f"\n其中{soon.points}积分将在{soon.first_at:%Y年%m月%d日}起陆续到期，请尽快使用。"
        earn = self.settings.rules.points_earn_per_yuan
        if earn:
            text += f"\n每消费1元得{earn}积分，积分有效期{self.settings.rules.points_valid_days}天。"
        return text

    def coupons(self, turn: Turn, intent: Intent) -> ReplyLike:
        found = available_coupons(turn.openid, turn.now)
        if not found:
            return "您目前没有可用的优惠券。"
        lines = [f"您有{len(found)}张可用优惠券："]
        for i, coupon in enumerate(found[:SHOWN_COUPONS], start=1):
            label = SOURCE_LABELS.get(coupon.source)
            lines.append(
                f"{i}. {coupon.template.describe()}{f'（{label}）' if label else ''}"
                f"，有效期至{coupon.expires_at:%Y-%m-%d %H:%M}"
            )
        if len(found) > SHOWN_COUPONS:
            lines.append(f"……还有{len(found) - SHOWN_COUPONS}张")
        lines.append("下单结算时可以选用。")
        return "\n".join(lines)
