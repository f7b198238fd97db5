"""到货提醒 / 降价提醒 in chat: "到货通知我" on the product in view (sold out; "到货通知我 红色 M" for one sold-out
spec), "降价提醒" on any product in view, "我的提醒" lists what is watched, "取消提醒" drops the watch of the product
in view, of the n-th listed ("取消第2个提醒"), or all of them. The notice itself comes from the worker's sweep
(`store.catalog.watches.notify_due`)."""

from __future__ import annotations

import re

from dialogs.engine import IntentAnswer
from dialogs.flows import Turn
from dialogs.intents import Intent, IntentWords
from dialogs.recent import live
from dialogs.replies import ReplyLike, yuan
from store.catalog.products import Product, match_specs, spec_choices
from store.catalog.watches import (
    PRICE_DROP,
    RESTOCK,
    AlreadyWatching,
    InStock,
    unwatch,
    watch,
    watches_of,
)

INTENTS: tuple[IntentWords, ...] = (
    ("my_watches", "contains", 85, ("我的提醒", "提醒列表", "我的到货提醒", "我的降价提醒")),
    ("unwatch", "regex", 86, (r"^取消第\d{1,2}个提醒$",)),  # whole: the classifier must not read 取消 as 取消订单
    ("unwatch", "contains", 84, ("取消提醒", "取消到货提醒", "取消降价提醒", "不用提醒了", "别提醒了")),
    ("watch_restock", "contains", 83, ("到货通知", "到货提醒", "有货通知", "有货提醒", "补货通知", "补货提醒")),
    ("watch_price", "contains", 83, ("降价提醒", "降价通知", "降价了告诉我", "降价告诉我")),
)
_WORDS = re.compile("|".join(sorted(
    {w for _, mode, _, words in INTENTS if mode != "regex" for w in words} | {"我", "一下", "请"}, key=len, reverse=True
)))  # fmt: skip
HOW = "请先打开想关注的商品（搜索商品名，回复序号），再回复“到货通知我”或“降价提醒”。"


def _product_in_view(turn: Turn) -> int | None:
    product = live(turn.recent, turn.now).get("product") or turn.slots.get("product")
    return int(product) if product else None


def watch_restock(turn: Turn, intent: Intent) -> ReplyLike:
    product_id = _product_in_view(turn)
    if product_id is None:
        return HOW
    title = Product.get_by_id(product_id).title
    sku_id, spec = None, ""
    rest = _WORDS.sub(" ", turn.text).strip(" ，,。!！")
    if rest:
        found = match_specs(spec_choices(product_id), rest)
        if len(found) == 1:
            sku_id, spec = found[0].sku_id, " ".join(p.split(":", 1)[-1] for p in found[0].spec.split(";") if p)
    try:
        watch(turn.openid, product_id, RESTOCK, turn.now, sku_id=sku_id)
    except InStock:
        if sku_id is not None:
            return f"“{title}”{spec}有货，直接回复规格下单吧～"
        return (
            f"“{title}”还有货，直接选规格下单吧；想等某个售罄的规格，回复“到货通知我 规格”，例如“到货通知我 红色 M”。"
        )
    except AlreadyWatching:
        return f"已经为您登记过“{title}”的到货提醒啦，到货后第一时间通知您。"
    named = f"“{title}”{spec}" if spec else f"“{title}”"
    return f"好的，{named}到货后第一时间通知您。回复“我的提醒”查看，“取消提醒”取消。"


def watch_price(turn: Turn, intent: Intent) -> ReplyLike:
    product_id = _product_in_view(turn)
    if product_id is None:
        return HOW
    try:
        watched = watch(turn.openid, product_id, PRICE_DROP, turn.now)
    except AlreadyWatching:
        return "已经为您登记过这件商品的降价提醒啦，降价后第一时间通知您。"
    title = Product.get_by_id(product_id).title
    now = f"（现价¥{yuan(watched.baseline_fen)}起）" if watched.baseline_fen else ""
    return f"好的，“{title}”降价时第一时间通知您{now}。回复“我的提醒”查看，“取消提醒”取消。"


def my_watches(turn: Turn, intent: Intent) -> ReplyLike:
    found = watches_of(turn.openid)
    if not found:
        return "您还没有到货或降价提醒。" + HOW
    lines = [
        f"{i}. {w.label}：{w.title}{f' {w.spec}' if w.spec else ''}"
        + (f"（登记时¥{yuan(w.baseline_fen)}）" if w.kind == PRICE_DROP and w.baseline_fen else "")
        for i, w in enumerate(found, start=1)
    ]
    return "您的提醒：\n" + "\n".join(lines) + "\n回复“取消第1个提醒”取消一个，“取消提醒”全部取消。"


def cancel_watches(turn: Turn, intent: Intent) -> ReplyLike:
    number = re.search(r"(\d{1,2})", turn.norm)
    if number:
        found = watches_of(turn.openid)
        n = int(number[1])
        if not 1 <= n <= len(found):
            return "没有这个序号的提醒。回复“我的提醒”查看。"
        unwatch(turn.openid, found[n - 1].product_id)
        return f"已取消“{found[n - 1].title}”的提醒。"
    dropped = unwatch(turn.openid)
    return f"已取消全部{dropped}个提醒。" if dropped else "您还没有到货或降价提醒。"


def answers() -> dict[str, IntentAnswer]:
    return {
        "watch_restock": watch_restock, "watch_price": watch_price, "my_watches": my_watches,
        "unwatch": cancel_watches,
    }  # fmt: skip
