"""Small talk: a short reply in the shop's voice to thanks, "好的", laughter, goodbyes and greetings, always with a
nudge towards something useful. Variants are picked with the engine's rng; greetings follow the hour of `now`
(Asia/Shanghai, from the injected clock)."""

from __future__ import annotations

import random
from datetime import datetime

from store.core.clock import SHANGHAI

THANKS = ("不客气～", "不用谢，能帮到您就好！", "客气啦😊", "随时为您效劳～", "能帮上忙{shop}很开心！")
OK = ("好嘞～", "收到！", "好的～", "嗯嗯，明白～", "没问题！")
LAUGH = ("哈哈，开心就好😄", "😄 看到您开心我也开心～", "嘿嘿～", "哈哈哈，{shop}也被逗乐了！")
BYE = ("再见，欢迎常来{shop}～", "拜拜～想逛随时回来！", "下次见👋", "好的，{shop}随时在～")
GREET = ("{hello}！欢迎来到{shop}～", "{hello}，欢迎来到{shop}！", "{hello}呀，欢迎来到{shop}😊")
NUDGES = (
    "回复“逛商城”看看商品。",
    "回复“有什么活动”看看优惠。",
    "回复“帮助”看看我能做什么。",
    "回复“我的订单”查看订单。",
)
KINDS = ("thanks", "ok", "laugh", "bye")


def hello(now: datetime) -> str:
    """早上好 at 8:00, 晚上好 at 21:00: the greeting for the hour in Shanghai."""
    hour = now.astimezone(SHANGHAI).hour
    if 5 <= hour < 9:
        return "早上好"
    if 9 <= hour < 11:
        return "上午好"
    if 11 <= hour < 13:
        return "中午好"
    if 13 <= hour < 18:
        return "下午好"
    if 18 <= hour < 23:
        return "晚上好"
    return "夜深了，您好"


def greet(shop_name: str, now: datetime, rng: random.Random) -> str:
    return f"{rng.choice(GREET).format(hello=hello(now), shop=shop_name)}{rng.choice(NUDGES)}"


def reply(kind: str, shop_name: str, now: datetime, rng: random.Random) -> str:
    """The reply to one kind of small talk (`KINDS`); a goodbye late at night says 晚安."""
    variants = {"thanks": THANKS, "ok": OK, "laugh": LAUGH, "bye": BYE}[kind]
    text = rng.choice(variants).format(shop=shop_name)
    if kind == "bye":
        hour = now.astimezone(SHANGHAI).hour
        night = "晚安，好梦🌙" if hour >= 21 or hour < 5 else ""
        return f"{text}{night}有需要随时回复“帮助”找我。"
    return f"{text}{rng.choice(NUDGES)}"
