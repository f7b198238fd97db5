"""Built-in intents: what a follower means when no operator rule answers ("我的订单", "快递到哪了", "看看连衣裙").

Detection runs on normalised text through the same matcher as operator rules (exact and contains tables, one
automaton pass), plus one anchored regex that pulls the search words out of "看看…/有…吗/找…".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from dialogs.matcher import Matcher, Rule
from dialogs.normalize import normalize
from dialogs.understanding.labels import LABELS

GLOBAL = frozenset({"cancel", "back", "help", "human"})
"""Checked before the active flow: they must work whatever the follower is in the middle of."""

IntentWords = tuple[str, str, int, tuple[str, ...]]
"""(intent, mode, priority, keywords). Normalised forms: no spaces or punctuation, lower case."""

_TABLE: tuple[IntentWords, ...] = (
    ("cancel", "exact", 100, ("取消", "退出", "算了", "不要了", "结束", "不买了", "cancel", "quit")),
    ("back", "exact", 100, ("返回", "上一步", "后退", "back")),
    ("help", "exact", 100, ("帮助", "help", "菜单", "功能", "你能做什么", "怎么用")),
    ("human", "contains", 90, ("转人工", "人工客服", "人工", "真人", "找客服", "联系客服")),
    ("human", "exact", 90, ("客服",)),
    ("greet", "exact", 40, ("你好", "您好", "hi", "hello", "在吗", "在不在", "哈喽", "嗨", "有人吗", "在么")),
    ("browse", "exact", 50, ("逛商城", "逛逛", "看看", "商城", "首页", "逛一逛", "随便看看", "全部商品", "商品",
                             "继续逛", "继续购物", "接着逛", "再逛逛")),
    ("orders", "contains", 60, ("我的订单", "查订单", "订单详情", "订单状态", "我买的")),
    ("orders", "exact", 60, ("订单",)),
    ("tracking", "contains", 65, ("快递", "物流", "到哪了", "发货了吗", "什么时候发货", "什么时候到", "查件")),
    ("after_sales", "contains", 70, ("退货", "退款", "换货", "售后", "退换", "质量问题", "投诉")),
    ("member", "contains", 55, ("什么会员", "会员等级", "会员中心", "我的等级", "会员权益", "vip")),
    ("member", "exact", 55, ("会员",)),
    ("points", "contains", 56, ("我的积分", "积分")),
    ("coupons", "contains", 57, ("优惠券", "我的券", "领券", "红包", "礼包")),
    ("checkout", "contains", 59, ("购物车", "去结算", "我要结算")),
    ("checkout", "exact", 59, ("结算", "买单", "下单")),
    ("birthday", "contains", 58, ("设置生日", "我的生日", "生日是", "改生日", "修改生日")),
    # Shop knowledge: asking about the rules rather than one's own data; above the data intents they contain
    # ("积分怎么用" is not "我的积分", "退货政策" starts no after-sales request).
    ("ask_promotions", "contains", 54, ("满减", "有什么活动", "有活动吗", "优惠活动", "促销")),
    ("ask_promotions", "contains", 54, ("有什么优惠", "有优惠吗")),
    ("ask_coupon_rules", "contains", 62, ("优惠券怎么用", "券怎么用", "能叠加", "可以叠加", "叠加使用", "同享")),
    ("ask_gift", "contains", 62, ("新人礼包有什么", "新人礼包是什么", "新人福利", "新人优惠", "新人有什么")),
    ("ask_tiers", "contains", 62, ("怎么升级", "如何升级", "升级条件", "会员规则", "等级规则", "成为vip", "成为黑金")),
    ("ask_birthday_benefit", "contains", 62, ("生日有什么", "生日福利", "生日礼", "生日优惠", "过生日")),
    ("ask_points_rules", "contains", 62, ("积分怎么用", "积分怎么得", "积分怎么获得", "积分规则", "积分有什么用")),
    ("ask_points_rules", "contains", 62, ("积分过期", "积分有效期")),
    ("ask_return_policy", "contains", 72, ("无理由", "退货政策", "退换货政策", "售后政策", "退货规则", "售后规则")),
    ("ask_shipping_time", "contains", 66, ("多久发货", "几天发货", "多久能发货", "发货时间", "多久能到", "几天能到")),
    # Small talk: whole messages only, so "好的，要M码" still reaches the flow's own handling.
    ("smalltalk_thanks", "exact", 30, ("谢谢", "谢谢你", "谢谢您", "多谢", "感谢", "谢啦", "谢了", "thanks", "thx")),
    ("smalltalk_ok", "exact", 30, ("好的", "好", "好吧", "嗯", "嗯嗯", "ok", "okay", "行", "知道了", "收到")),
    ("smalltalk_ok", "exact", 30, ("明白了", "好滴")),
    ("smalltalk_laugh", "exact", 30, ("哈哈", "哈哈哈", "哈哈哈哈", "哈哈哈哈哈", "hh", "hhh", "haha", "呵呵")),
    ("smalltalk_laugh", "exact", 30, ("嘿嘿", "嘻嘻", "笑死", "😂", "🤣")),
    ("smalltalk_bye", "exact", 30, ("再见", "拜拜", "拜", "bye", "byebye", "88", "下次见", "回见", "晚安")),
)

MENU_KEYS = {
    "BROWSE": "browse",
    "MY_ORDERS": "orders",
    "TRACKING": "tracking",
    "MY_COUPONS": "coupons",
    "MEMBER": "member",
    "POINTS": "points",
    "AFTER_SALES": "after_sales",
    "HUMAN": "human",
    "BIRTHDAY": "birthday",
    "CART": "checkout",
    "HELP": "help",
}

_SEARCH = re.compile(
    r"^(?:我想|想|我要|要)?(?:看看|看下|看一下|看|找找|找一下|找|搜一下|搜索|搜|买|有没有|有)"
    r"(?P<query>.{1,30}?)(?:吗|么|嘛|呢|没有)?$"
)


@dataclass(frozen=True)
class Intent:
    name: str
    argument: str = ""  # the search words for "search"
    how: str = ""  # "exact", "contains" or "pattern": how the keyword table found it ("" from elsewhere)


class IntentDetector:
    def __init__(self, extra: tuple[IntentWords, ...] = ()) -> None:
        """`extra`: the words features add for their own intents (`bot.features`)."""
        self.table = (*_TABLE, *extra)
        rules = [
            Rule(id=i, name=intent, keywords=words, match=mode, priority=priority)  # type: ignore[arg-type]
            for i, (intent, mode, priority, words) in enumerate(self.table, start=1)
        ]
        self._matcher = Matcher.build(rules)

    def detect(self, text: str, norm: str, now: datetime) -> Intent | None:
        if not norm:
            return Intent("help")
        hit = self._matcher.match(text, now)
        if hit is not None:  # the whole message being the keyword is an exact hit, whatever the table says
            return Intent(hit.rule.name, how="exact" if hit.found == norm else hit.mode)
        found = _SEARCH.match(norm)
        if found and found["query"] not in ("什么", "啥", "东西"):
            return Intent("search", found["query"], how="pattern")
        return None


OWN_DATA = frozenset({"orders", "tracking", "coupons", "points", "member", "checkout"})
"""Built-ins that read the follower's own data: they win over an operator's rule unless the rule overrides them
(one `contains "快递"` rule must not stop 查快递 from showing the buyer's parcel)."""



def shadowed_builtins(keywords: tuple[str, ...] | list[str], match: str) -> dict[str, str]:
    """The built-in intents whose own words a rule's keywords would also match: {intent: one such word}."""
    if match not in ("exact", "contains"):
        return {}
    found: dict[str, str] = {}
    for intent, _mode, _priority, words in _TABLE:
        for keyword in keywords:
            key = normalize(keyword)
            hit = next((w for w in words if (key in w if match == "contains" else key == w)), None)
            if key and hit and intent not in found:
                found[intent] = hit
    return found


def shadowing(keywords: tuple[str, ...] | list[str], match: str, overrides: bool) -> list[tuple[str, str, str]]:
    """(intent, word, effect) for each built-in a rule's keywords also match. Effect: `global_first` (the global
    word always answers, the rule never does there), `builtin_wins` (the built-in reads the follower's own data and
    answers unless the rule overrides it), `rule_wins` (the rule takes the built-in's words over)."""
    found = []
    for intent, word in shadowed_builtins(keywords, match).items():
        if intent in GLOBAL:
            effect = "global_first"
        elif intent in OWN_DATA and not overrides:
            effect = "builtin_wins"
        else:
            effect = "rule_wins"
        found.append((intent, word, effect))
    return found


def shadow_warnings(name: str, keywords: tuple[str, ...] | list[str], match: str, overrides: bool) -> list[str]:
    """What an operator should know before a rule takes words the built-ins answer."""
    lines = []
    for intent, word, effect in shadowing(keywords, match, overrides):
        builtin = f"the built-in {LABELS.get(intent, intent)} ({intent}, e.g. {word!r})"
        if effect == "global_first":
            lines.append(f"rule {name!r} never answers {word!r}: {builtin} always comes first")
        elif effect == "builtin_wins":
            lines.append(f"rule {name!r} also matches {builtin}; the built-in answers there, since it reads the "
                         "follower's own data (set overrides = true to answer with the rule instead)")
        else:
            lines.append(f"rule {name!r} takes over {builtin}")
    return lines
