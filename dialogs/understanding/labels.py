"""What each intent is called when the bot asks which one the shopper meant ("您是想查物流，还是想退货？")."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LABELS", "clarifying_question"]

LABELS: Mapping[str, str] = {
    "cancel": "结束当前操作",
    "back": "返回上一步",
    "help": "看看我能做什么",
    "human": "转人工客服",
    "greet": "打个招呼",
    "browse": "逛逛商城",
    "orders": "查订单",
    "tracking": "查物流",
    "after_sales": "退货退款",
    "member": "查会员等级",
    "points": "查积分",
    "coupons": "看看优惠券",
    "checkout": "去购物车结算",
    "birthday": "设置生日",
    "search": "找商品",
    "smalltalk_thanks": "道谢",
    "smalltalk_ok": "说好的",
    "smalltalk_laugh": "开个玩笑",
    "smalltalk_bye": "说再见",
    "ask_promotions": "了解优惠活动",
    "ask_coupon_rules": "了解优惠券怎么用",
    "ask_gift": "了解新人礼包",
    "ask_tiers": "了解会员等级和权益",
    "ask_birthday_benefit": "了解生日福利",
    "ask_points_rules": "了解积分规则",
    "ask_return_policy": "了解退换货政策",
    "ask_shipping_time": "问发货和到货时间",
    "after_sales_fact": "反映商品问题",
    "cancel_order": "取消订单",
    "search_need": "让我推荐商品",
    "refine": "换个条件看看刚才的商品",
}


def clarifying_question(first: str, second: str, labels: Mapping[str, str] = LABELS) -> str:
    """The question offering the two likeliest intents: "您是想查物流，还是想退货退款？"."""
    return f"您是想{labels.get(first, first)}，还是想{labels.get(second, second)}？"
