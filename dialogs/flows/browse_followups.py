"""Follow-ups to the last product list (`Turn.recent`): pick one, check a size or colour on one, or narrow the list.

"第二个" / "就这个" open a product's card as tapping it would; "第二个有L码吗" answers from that product's SKUs and
offers to buy; "便宜一点的", "三百以内的", "有红色的吗" list the same query again, narrowed. With no list in
view, a follow-up that needs one gets the shopper asked what they are looking for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialogs.flows import END, Step, Turn
from dialogs.flows.refine import ListQuery, colours_of, fits, search_text, spec_text
from dialogs.recent import shown
from dialogs.replies import yuan
from dialogs.understanding.followups import FollowUp, read_follow_up
from store.catalog.products import on_sale_skus, product_with_skus
from store.search.index import SearchResult

__all__ = ["ASK_WHAT", "FollowUps"]

ASK_WHAT = "您想找什么商品呢？直接告诉我商品名，例如“连衣裙”，或回复“逛商城”看看分类。"
CANDIDATES = 48  # search hits checked against a colour or size: a refined list pages through these
LIST, PICK_SKU = "LIST", "PICK_SKU"
TAKE = frozenset({"要", "买", "好", "好的", "行", "可以", "嗯", "要了", "买了", "下单", "就要", "就它", "要它"})
# Words without which an answer to the spec question is a spec ("红色 M"), read without the follow-up reader.
_NOT_A_SPEC = re.compile(
    r"吗|有没有|还有|呢|第|倒数|最后|这|那|它|便宜|实惠|低价|颜色|别的|其他|其它|另外|换|以内|以下|之内|到|元|块"
)
_THIS = re.compile(r"这|那|它")


@dataclass(frozen=True)
class FollowUps:
    search: Callable[[str, int, int], SearchResult] | None
    card: Callable[[Turn, int], Step]  # the browse flow's product card, as a tap on the list opens it
    per_page: int
    in_stock: Callable[[Sequence[int], datetime], set[int]]  # (product ids, now) → those with stock

    def answer(self, turn: Turn, asked: FollowUp | None = None) -> Step:
        """The reply to a follow-up (`asked`, read from the text when not given), or not understood."""
        asked = asked or read_follow_up(turn.text)
        if asked is None:
            return Step.not_understood()
        recent = turn.recent
        ids: list[int] = recent.get("ids", [])
        if not ids:  # a colour, size or price alone is a search of the whole catalog; "第二个" needs a list
            needs_list = asked.ordinal is not None or asked.this or asked.cheaper or asked.other_colour
            return Step(ASK_WHAT, END) if needs_list else Step.not_understood()
        turn.recent = shown(turn.now, **_fields(recent))  # a list in use stays in view
        self._relist(turn)
        if asked.ordinal is not None and not _position(asked.ordinal, ids):
            return Step(f"刚才的列表只有{len(ids)}件商品，回复1-{len(ids)}查看。", LIST)
        target = _target(asked, recent, ids)
        checks = asked.colours or asked.sizes or asked.other_colour
        if target is not None and checks and not (asked.price or asked.cheaper):
            return self._check(turn, target, asked)
        if not asked.filters:
            if target is None:
                return Step("您说的是第几个呢？回复数字查看商品。", LIST)
            return self.card(turn, target)
        if asked.other_colour and not asked.colours:
            colours = colours_of(s.spec for skus in on_sale_skus(ids).values() for s in skus)
            if not colours:
                return Step("刚才的商品没有颜色可选。回复数字查看商品。", LIST)
            return Step(f"刚才的商品有这些颜色：{'、'.join(colours)}。回复颜色看看，例如“{colours[0]}的”。", LIST)
        return self.refined(turn, ListQuery.of(recent).refined(asked, recent.get("prices", [])), 1)

    def taken(self, turn: Turn) -> int | None:
        """The SKU a "要" or "就这个" takes while a card asks for a spec: the one just offered, else the product's
        only SKU in stock; None when the words take nothing or the choice is not clear."""
        if turn.norm not in TAKE:
            if not _THIS.search(turn.norm):
                return None
            asked = read_follow_up(turn.text)
            if asked is None or not asked.this or asked.filters or asked.ordinal is not None:
                return None
        if turn.slots.get("offered"):
            return int(turn.slots["offered"])
        view = product_with_skus(turn.slots["product"])
        in_stock = [s.id for s in view.skus if s.stock > 0] if view is not None else []
        return in_stock[0] if len(in_stock) == 1 else None

    def in_pick_sku(self, turn: Turn) -> Step:
        """A follow-up while a card asks for a spec: questions ("有L码吗", "别的颜色") and other products ("第二个")
        go to `answer`; a plain spec ("红色 M", "红色的") is left to the spec question."""
        if not _NOT_A_SPEC.search(turn.norm):
            return Step.not_understood()
        asked = read_follow_up(turn.text)
        if asked is None:
            return Step.not_understood()
        elsewhere = asked.ordinal or asked.cheaper or asked.price or asked.other_colour  # not a spec of this card
        if not (elsewhere or _asks(turn.norm) or (asked.this and not asked.filters)):
            return Step.not_understood()
        return self.answer(turn, asked)

    def refined(self, turn: Turn, query: ListQuery, page: int) -> Step:
        """The list for `query`'s page: candidates from the search, each listed with its first SKU that fits."""
        if self.search is None:
            return Step("商品目录加载中，请稍后再试～", END)
        result = self.search(search_text(query), CANDIDATES, 0)
        rows = _fitting(result, query)
        start = (page - 1) * self.per_page
        shown_rows = rows[start : start + self.per_page]
        words = query.words or "商品"
        if not shown_rows:
            if page > 1:
                return Step("没有更多了。回复数字查看商品。", LIST)
            if query.cheap:
                return Step(f"没有比刚才更便宜的“{words}”了。回复数字查看刚才的商品。", LIST)
            return Step(f"没有{query.describe()}的“{words}”。回复数字查看刚才的商品，或换个条件试试。", LIST)
        ids, names, prices = ([row[i] for row in shown_rows] for i in range(3))
        turn.slots.update(query=query.query, page=page, options=ids, names=names, refine=query.remembered())
        turn.recent = shown(turn.now, **query.remembered(), ids=ids, names=names, prices=prices)
        in_stock = self.in_stock(ids, turn.now)
        lines = [f"{i}. {name} ¥{yuan(price)}" + ("" if pid in in_stock and fits_in_stock else "（已售罄）")
                 for i, (pid, name, price, fits_in_stock) in enumerate(shown_rows, start=1)]  # fmt: skip
        more = "，“下一页”看更多" if len(rows) > start + self.per_page else ""
        header = f"为您找到{query.describe()}的“{words}”："
        if query.cheap:
            header = f"更便宜的“{words}”（{query.describe()}，价格从低到高）："
        return Step(header + "\n" + "\n".join(lines) + f"\n回复数字查看商品{more}。", LIST)

    def _check(self, turn: Turn, product_id: int, asked: FollowUp) -> Step:
        """Whether one product has the colour or size asked for, with stock; one SKU in stock is offered to buy."""
        view = product_with_skus(product_id)
        if view is None:
            return Step("这件商品已下架。回复数字看看其他商品。", LIST)
        turn.slots.update(product=product_id)
        turn.recent["product"] = product_id
        title = view.product.title
        options = "、".join(spec_text(s.spec) for s in view.skus if s.stock > 0)
        ask = f"\n可选：{options}。回复规格选择，例如“{options.split('、')[0]}”。" if options else ""
        if asked.other_colour and not asked.colours and not asked.sizes:
            colours = colours_of(s.spec for s in view.skus)
            if not colours:
                return Step(f"「{title}」没有其他颜色。{ask}", PICK_SKU)
            return Step(f"「{title}」有这些颜色：{'、'.join(colours)}。{ask}", PICK_SKU)
        colour, size = (asked.colours or ("",))[0], (asked.sizes or ("",))[0]
        wanted = " ".join(p for p in (colour, _size_label(size)) if p)
        matching = [s for s in view.skus if fits(s.spec, colour, size)]
        in_stock = [s for s in matching if s.stock > 0]
        if not matching:
            return Step(f"「{title}」没有{wanted}。{ask}", PICK_SKU)
        if not in_stock:
            return Step(f"「{title}」的{wanted}已售罄。{ask}", PICK_SKU)
        lines = "\n".join(f"· {spec_text(s.spec) or '默认'} ¥{yuan(s.price_fen)}（库存{s.stock}件）" for s in in_stock)
        if len(in_stock) == 1:
            turn.slots["offered"] = in_stock[0].id
            return Step(f"有的！「{title}」{wanted}：\n{lines}\n回复“要”直接购买，或回复其他规格。", PICK_SKU)
        example = spec_text(in_stock[0].spec)
        return Step(f"有的！「{title}」{wanted}：\n{lines}\n回复规格购买，例如“{example}”。", PICK_SKU)

    def _relist(self, turn: Turn) -> None:
        """The browse list state's slots from the list in view, for whatever state the reply leaves."""
        recent = turn.recent
        turn.slots.pop("offered", None)
        turn.slots.update(options=recent["ids"], names=recent.get("names", []), query=recent.get("query", ""),
                          page=1)  # fmt: skip
        if "colour" in recent:  # a refined list: its next page is refined the same way
            turn.slots["refine"] = ListQuery.of(recent).remembered()
        else:
            turn.slots.pop("refine", None)


def _fields(recent: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in recent.items() if k not in ("at", "turns")}


def _position(ordinal: int, ids: list[int]) -> int | None:
    index = ordinal - 1 if ordinal > 0 else len(ids) + ordinal
    return ids[index] if 0 <= index < len(ids) else None


def _target(asked: FollowUp, recent: dict[str, Any], ids: list[int]) -> int | None:
    """The product a follow-up is about: the Nth listed, else the card in view, else for "这个" the only one
    listed (a colour or size alone with no card in view narrows the whole list, whatever the page shows)."""
    if asked.ordinal is not None:
        return _position(asked.ordinal, ids)
    if recent.get("product"):
        return int(recent["product"])
    return ids[0] if asked.this and len(ids) == 1 else None


def _fitting(result: SearchResult, query: ListQuery) -> list[tuple[int, str, int, bool]]:
    """(product id, title, price shown, that SKU in stock) for the hits with a SKU in range with the colour and
    size asked for (stock as of now is checked again for the page shown)."""
    if not query.colour and not query.size:
        return [(h.product_id, h.title, h.price_fen, True) for h in result.hits]
    skus = on_sale_skus([h.product_id for h in result.hits])
    rows = []
    for hit in result.hits:
        fitting = [s for s in skus.get(hit.product_id, []) if query.admits(s.spec, s.price_fen)]
        if fitting:
            best = min(fitting, key=lambda s: (s.stock <= 0, s.price_fen, s.id))
            rows.append((hit.product_id, hit.title, best.price_fen, best.stock > 0))
    return rows


def _asks(norm: str) -> bool:
    return "吗" in norm or "有没有" in norm or "还有" in norm or norm.endswith("呢")


def _size_label(size: str) -> str:
    return f"{size}码" if size.isascii() and size.isalpha() else size
