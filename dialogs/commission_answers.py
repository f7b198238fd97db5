"""分销 in chat: "成为推广员" (open to every member, or from `[commission] min_tier`), "我的推广码" (a card to the
promoter's code page, `/promo/{scene}`, which friends scan to follow) and "我的佣金" (pending, confirmed,
reversed, this month)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dialogs.flows import Turn
from dialogs.intents import Intent
from dialogs.replies import Article, News, ReplyLike
from store.commission.promoters import become_promoter, followers_brought, promoter
from store.commission.reports import earnings
from store.core.money import yuan
from store.members.accounts import MemberRules, tier_of
from store.orders.pricing import Tier

NOT_YET = "您还不是推广员，回复“成为推广员”即可加入，邀请好友下单赚佣金。"


@dataclass(frozen=True)
class CommissionSettings:
    public_url: str
    enabled: bool
    min_tier: Tier
    rules: MemberRules
    window_days: int  # commissions are confirmed this long after payment (the after-sales window)


def code_link(public_url: str, scene: str) -> str:
    return f"{public_url.rstrip('/')}/promo/{scene}"


def make_commission_answers(settings: CommissionSettings) -> dict[str, Callable[[Turn, Intent], ReplyLike]]:
    ladder = list(Tier)

    def join(turn: Turn, intent: Intent) -> ReplyLike:
        if promoter(turn.openid) is not None:
            return "您已经是推广员啦～回复“我的推广码”分享给好友，回复“我的佣金”查看收益。"
        if not settings.enabled:
            return "推广员招募暂未开放，敬请期待～"
        tier = tier_of(turn.openid, turn.now, settings.rules)
        if ladder.index(tier) < ladder.index(settings.min_tier):
            return f"成为推广员需要{settings.min_tier.label}及以上，您当前是{tier.label}。回复“会员等级”查看升级方式。"
        become_promoter(turn.openid, turn.now)
        return (
            "🎉 恭喜成为推广员！好友扫描您的推广码关注后下单，每件商品按其佣金比例给您计佣，"
            f"售后期（{settings.window_days}天）结束后确认。\n回复“我的推广码”获取推广码，回复“我的佣金”查看收益。"
        )

    def code(turn: Turn, intent: Intent) -> ReplyLike:
        mine = promoter(turn.openid)
        if mine is None:
            return NOT_YET
        brought = followers_brought(turn.openid)
        return News((Article(
            "我的推广码", f"好友扫码关注后下单，您即可获得佣金。已邀请{brought}位好友，长按图片保存分享。", "",
            code_link(settings.public_url, mine.scene),
        ),))  # fmt: skip

    def mine(turn: Turn, intent: Intent) -> ReplyLike:
        if promoter(turn.openid) is None:
            return NOT_YET
        e = earnings(turn.openid, turn.now)
        return (
            f"💰 我的佣金（{e.orders}笔订单）\n本月收益：{yuan(e.month_fen)}\n待确认：{yuan(e.pending_fen)}\n"
            f"已确认：{yuan(e.confirmed_fen)}\n已扣回（退款）：{yuan(e.reversed_fen)}\n"
            f"订单售后期（{settings.window_days}天）结束后佣金确认，按期结算。"
        )

    return {"become_promoter": join, "my_promoter_code": code, "my_commission": mine}
