"""退订 and 恢复订阅: a follower stops (and restarts) the shop's marketing messages. Order, shipping and
after-sales notices are not marketing and keep coming."""

from __future__ import annotations

from dialogs.engine import IntentAnswer
from dialogs.flows import Turn
from dialogs.intents import Intent, IntentWords
from store.profiles.opt_out import opt_in, opt_out

INTENTS: tuple[IntentWords, ...] = (
    ("opt_out", "exact", 95, ("退订", "td", "取消订阅", "退订消息", "退订营销消息", "不要再发了", "别再发了")),
    ("opt_in", "exact", 95, ("恢复订阅", "重新订阅", "订阅消息", "恢复推送")),
)


def unsubscribe(turn: Turn, intent: Intent) -> str:
    new, _ = opt_out(turn.openid, turn.now)
    first = "已为您退订活动消息" if new else "您已退订活动消息"
    return f"{first}，之后不会再收到营销推送；订单、物流和售后通知照常发送。回复“恢复订阅”可重新接收。"


def resubscribe(turn: Turn, intent: Intent) -> str:
    if opt_in(turn.openid):
        return "已恢复订阅，之后的会员活动会第一时间通知您。回复“退订”可随时退订。"
    return "您一直在订阅中，会员活动会第一时间通知您。回复“退订”可随时退订。"


def answers() -> dict[str, IntentAnswer]:
    return {"opt_out": unsubscribe, "opt_in": resubscribe}
