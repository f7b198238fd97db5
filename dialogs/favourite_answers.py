"""收藏 and 我的收藏: save the product in view (the card just shown, or "收藏2" for the second of the list shown)
and list what was saved."""

from __future__ import annotations

import re

from dialogs.engine import IntentAnswer
from dialogs.flows import Turn
from dialogs.intents import Intent, IntentWords
from store.profiles.favourites import add_favourite, favourites

INTENTS: tuple[IntentWords, ...] = (
    ("favourites", "exact", 81, ("我的收藏", "收藏夹", "收藏列表", "看收藏", "查看收藏")),
    ("favourite", "contains", 80, ("收藏",)),
)
_NUMBER = re.compile(r"(\d{1,2})")
HOW = "先找到想收藏的商品：看商品时回复“收藏”，或在列表里回复“收藏2”收藏第2件。"


def _chosen(turn: Turn) -> int | None:
    recent = turn.recent or {}
    ids = recent.get("ids") or []
    number = _NUMBER.search(turn.norm)
    if number:
        n = int(number.group(1))
        return ids[n - 1] if 1 <= n <= len(ids) else None
    if recent.get("product"):
        return int(recent["product"])
    return ids[0] if len(ids) == 1 else None


def favourite(turn: Turn, intent: Intent) -> str:
    product_id = _chosen(turn)
    if product_id is None:
        return HOW
    saved = add_favourite(turn.openid, product_id, turn.now)
    if saved is None:
        return "这件商品已下架，收藏不了了。"
    title, new = saved
    return f"已收藏“{title}”。回复“我的收藏”查看。" if new else f"“{title}”已经在收藏里了。回复“我的收藏”查看。"


def favourite_list(turn: Turn, intent: Intent) -> str:
    saved = favourites(turn.openid)
    if not saved:
        return "收藏夹还是空的。" + HOW
    lines = "\n".join(f"{i}. {title}" for i, (_, title) in enumerate(saved, start=1))
    return f"您收藏的商品：\n{lines}\n回复商品名即可查看。"


def answers() -> dict[str, IntentAnswer]:
    return {"favourite": favourite, "favourites": favourite_list}
