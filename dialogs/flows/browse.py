"""逛商城 and search: categories (three levels) → a numbered product list (下一页) → a product card → SKU choice.

Lists are numbered text (WeChat allows one news article per reply to a message); the product card is that one
article, and the SKU question follows it as a customer-service message. Search results enter the same list
state, so "回复数字查看" works the same after "看看连衣裙" as after tapping 逛商城.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialogs.flows import END, Flow, Step, Turn
from dialogs.flows.browse_followups import FollowUps
from dialogs.flows.refine import ListQuery, spec_text
from dialogs.recent import shown
from dialogs.replies import Answer, ReplyRenderer, yuan
from store.catalog.products import (
    Category,
    Product,
    SpecChoice,
    child_categories,
    fresh_sku,
    in_stock_now,
    match_specs,
    price_range,
    product_with_skus,
    products_in_category,
    spec_choices,
    top_categories,
)
from store.search.index import SearchResult

PICK_CATEGORY = "PICK_CATEGORY"
LIST = "LIST"
PICK_SKU = "PICK_SKU"
_ASKS_TO_WATCH = re.compile("到货通知|到货提醒|有货通知|有货提醒|补货通知|补货提醒|降价提醒|降价通知")
PER_PAGE = 8
NEXT = {"下一页", "下页", "更多", "还有吗", "继续", "next"}
PREVIOUS = {"上一页", "上页", "prev"}
_NUMBER = re.compile(r"^(?:第)?(\d{1,2})(?:个|件|号)?$")


@dataclass(frozen=True)
class BrowseDeps:
    renderer: ReplyRenderer
    search: Callable[[str, int, int], SearchResult] | None  # (text, limit, offset); None until the index is ready
    record_exposure: Callable[[str, int], None]  # (openid, product id) when a card is shown
    on_sku_chosen: Callable[[Turn, int], Any] | None = None  # hands over to checkout when it exists
    member_price: Callable[[str, int], tuple[str, int] | None] | None = None  # (openid, fen) → (tier label, fen)
    spec_choices: Callable[[int], Sequence[SpecChoice]] = spec_choices  # a product's specs; serve caches them
    # (product ids, now) → those with an on-sale SKU in stock, for a list's 已售罄 labels; serve caches them
    in_stock: Callable[[Sequence[int], datetime], set[int]] = lambda ids, now: in_stock_now(ids)
    record_search: Callable[[str, str], None] = lambda openid, query: None  # (openid, words): a new search


def build(deps: BrowseDeps) -> Flow:
    def entry(turn: Turn) -> Step:
        query = turn.slots.pop("_query", "")
        if query:
            return _search(turn, query, 1)
        return _categories(turn, None)

    def pick_category(turn: Turn) -> Step:
        options: list[int] = turn.slots.get("options", [])
        chosen = _choice(turn.norm, options, _listed_names(turn.slots, Category, Category.name))
        if chosen is None:
            return _search_instead(turn)
        category = Category.get_by_id(chosen)
        if child_categories(category):
            return _categories(turn, category)
        turn.slots.update(category=category.id, page=1, query="")
        return _list(turn)

    def list_products(turn: Turn) -> Step:
        if turn.norm in NEXT or turn.norm in PREVIOUS:
            page = turn.slots.get("page", 1) + (1 if turn.norm in NEXT else -1)
            if page < 1:
                return Step(f"已经是第一页了。{_list_prompt()}", LIST)
            turn.slots["page"] = page
            if turn.slots.get("refine"):
                return follow_ups.refined(turn, ListQuery(**turn.slots["refine"]), page)
            return _search(turn, turn.slots["query"], page) if turn.slots.get("query") else _list(turn)
        options: list[int] = turn.slots.get("options", [])
        chosen = _choice(turn.norm, options, _listed_names(turn.slots, Product, Product.title))
        if chosen is None:
            followed = follow_ups.answer(turn)
            return followed if followed.understood else _search_instead(turn)
        return _card(turn, chosen)

    def _search_instead(turn: Turn) -> Step:
        """Words that pick nothing from the list may name products: "连衣裙" right after 逛商城 is a search (searched
        once: its first page is the answer)."""
        if deps.search is None or not turn.norm or _NUMBER.match(turn.norm):
            return Step.not_understood()
        result = deps.search(turn.text, PER_PAGE, 0)
        if not result.hits or not any(strong for _, strong in result.strengths):  # not a description word alone
            return Step.not_understood()
        return _search(turn, turn.text, 1, result)

    def pick_sku(turn: Turn) -> Step:
        if _ASKS_TO_WATCH.search(turn.norm):  # "到货通知我 红色 L" names a spec, but to watch it (feature watches)
            return Step.not_understood()
        taken = follow_ups.taken(turn)
        if taken is not None:
            return _chosen(turn, taken, "")
        followed = follow_ups.in_pick_sku(turn)
        if followed.understood:
            return followed
        candidates = match_specs(deps.spec_choices(turn.slots["product"]), turn.text)
        if len(candidates) > 1:
            listed = "、".join(c.spec.replace(";", " ").replace(":", "") for c in candidates[:6])
            return Step(f"有几个规格符合：{listed}。请说得更具体一些，例如“红色 M”。", PICK_SKU)
        if not candidates:
            return Step.not_understood()
        return _chosen(turn, candidates[0].sku_id, candidates[0].spec)

    def _chosen(turn: Turn, sku_id: int, spec: str) -> Step:
        sku = fresh_sku(sku_id)  # stock and price as they are now, not as the spec copy saw them
        if sku is None or not sku.on_sale:
            return Step(f"{spec_text(spec)} 已下架，换个规格吧～", PICK_SKU)
        if sku.stock <= 0:
            spec = spec_text(sku.spec)
            return Step(f"{spec} 已售罄，换个规格吧～回复“到货通知我 {spec}”，到货时通知您。", PICK_SKU)
        if deps.on_sku_chosen is not None:
            return deps.on_sku_chosen(turn, sku.id)
        logistics = "（虚拟商品，无需物流）" if sku.virtual else ""
        return Step(f"已选：{spec_text(sku.spec)}，¥{yuan(sku.price_fen)}，库存{sku.stock}件{logistics}。", END)

    def _categories(turn: Turn, parent: Category | None) -> Step:
        children = top_categories() if parent is None else child_categories(parent)
        if not children:
            return Step("商城还在上新中，稍后再来看看吧～", END)
        turn.slots.update(options=[c.id for c in children], names=[c.name for c in children])
        title = "请选择分类" if parent is None else f"{parent.name}下有"
        lines = "\n".join(f"{i}. {c.name}" for i, c in enumerate(children, start=1))
        return Step(f"{title}：\n{lines}\n回复数字或分类名选择。", PICK_CATEGORY)

    def _list(turn: Turn) -> Step:
        category = Category.get_by_id(turn.slots["category"])
        page = products_in_category(category, page=turn.slots.get("page", 1), per_page=PER_PAGE)
        if not page.items:
            return Step(f"“{category.name}”暂时没有在售商品。回复“逛商城”看看别的分类。", END)
        turn.slots.update(options=[p.id for p in page.items], names=[p.title for p in page.items])
        turn.slots.pop("refine", None)
        prices = [price_range(p) for p in page.items]
        turn.recent = shown(
            turn.now,
            query=category.name,
            ids=[p.id for p in page.items],
            names=[p.title for p in page.items],
            prices=[found[0] for found in prices if found],
        )
        priced = zip(page.items, prices, strict=True)
        lines = [f"{i}. {p.title} {_price(found)}" for i, (p, found) in enumerate(priced, start=1)]
        more = "，“下一页”看更多" if page.has_next else ""
        header = f"{category.path}（第{page.number}页，共{page.total}件）"
        return Step(f"{header}\n" + "\n".join(lines) + f"\n回复数字查看商品{more}。", LIST)

    def _search(turn: Turn, query: str, page: int, result: SearchResult | None = None) -> Step:
        """The list for `query`'s `page`, from `result` when the caller has searched already."""
        if deps.search is None:
            return Step("商品目录加载中，请稍后再试～", END)
        if page == 1:
            deps.record_search(turn.openid, query)
        if result is None:
            result = deps.search(query, PER_PAGE, (page - 1) * PER_PAGE)
        turn.slots.pop("refine", None)
        if not result.hits:
            if page > 1:
                return Step("没有更多了。回复数字查看商品。", LIST)
            turn.recent = {}  # a new search replaces the list in view, even when it finds nothing
            looked = f"（找了：{'、'.join(result.looked_for[:6])}）" if result.looked_for else ""
            if result.closest:
                turn.slots.update(query=query, page=1, options=[h.product_id for h in result.closest])
                lines = "\n".join(f"{i}. {h.title} ¥{yuan(h.price_fen)}" for i, h in enumerate(result.closest, 1))
                return Step(
                    f"没找到“{query}”相关的商品{looked}。这些最接近：\n{lines}\n回复数字查看商品，或回复“逛商城”浏览全部分类。",
                    LIST,
                )
            suggestions = "、".join(s.path for s in result.suggestions[:4])
            hint = f"看看这些分类：{suggestions}。" if suggestions else ""
            return Step(f"没找到“{query}”相关的商品{looked}。{hint}回复“逛商城”浏览全部分类。", END)
        hits = result.hits
        ids, names = [h.product_id for h in hits], [h.title for h in hits]
        turn.slots.update(query=query, page=page, options=ids, names=names)
        turn.recent = shown(turn.now, query=query, ids=ids, names=names, prices=[h.price_fen for h in hits])
        in_stock = deps.in_stock([h.product_id for h in result.hits], turn.now)
        lines = [f"{i}. {h.title} ¥{yuan(h.price_fen)}" + ("" if h.product_id in in_stock else "（已售罄）")
                 for i, h in enumerate(result.hits, start=1)]  # fmt: skip
        more = "，“下一页”看更多" if result.total > page * PER_PAGE else ""
        header = f"为您找到“{query}”相关商品："
        if not any(strong for _, strong in result.strengths):  # only descriptions or shared characters matched
            header = f"没有正好是“{query}”的商品，这些可能相关："
        return Step(header + "\n" + "\n".join(lines) + f"\n回复数字查看商品{more}。", LIST)

    def _card(turn: Turn, product_id: int) -> Step:
        view = product_with_skus(product_id)
        if view is None:
            return Step("这件商品已下架。回复数字看看其他商品。", LIST)
        deps.record_exposure(turn.openid, product_id)
        if turn.recent:
            turn.recent = shown(turn.now, **{**turn.recent, "product": product_id})
        card = deps.renderer.product_card(view.product.code)
        options = []
        for sku in view.skus:
            state = "已售罄" if sku.stock <= 0 else f"库存{sku.stock}"
            virtual = "，无需物流" if sku.virtual else ""
            member = deps.member_price(turn.openid, sku.price_fen) if deps.member_price else None
            price = f"¥{yuan(sku.price_fen)}" + (f"，{member[0]}价¥{yuan(member[1])}" if member else "")
            options.append(f"· {spec_text(sku.spec) or '默认'} {price}（{state}{virtual}）")
        turn.slots["product"] = product_id
        turn.slots.pop("offered", None)
        if view.sold_out:
            question = "这件商品已售罄，回复“到货通知我”到货时通知您，或回复数字看看其他商品。"
            return Step(Answer(card, ({"type": "text", "content": question},)), LIST)
        if len(view.skus) == 1 and deps.on_sku_chosen is not None:  # nothing to choose: straight to the quantity
            chosen = deps.on_sku_chosen(turn, view.skus[0].id)
            return Step(Answer(card, ({"type": "text", "content": chosen.reply},)), chosen.next, flow=chosen.flow)
        question = "可选规格：\n" + "\n".join(options) + "\n回复规格选择，例如“" + _example(view) + "”。"
        return Step(Answer(card, ({"type": "text", "content": question},)), PICK_SKU)

    follow_ups = FollowUps(deps.search, _card, PER_PAGE, deps.in_stock)

    return Flow(
        name="browse",
        title="逛商城",
        entry=entry,
        states={PICK_CATEGORY: pick_category, LIST: list_products, PICK_SKU: pick_sku},
        prompts={
            PICK_CATEGORY: lambda slots: "回复数字或分类名选择分类。",
            LIST: lambda slots: _list_prompt(),
            PICK_SKU: lambda slots: "回复规格选择，例如“红色 M”。",
        },
        follow_up=follow_ups.answer,
    )


def _choice(norm: str, options: list[int], names: Callable[[], Sequence[str]]) -> int | None:
    """A number from the list ("2", "第2个") or a name that picks exactly one option (`names()`: the options'
    names in order, asked for only when the text is not a number)."""
    found = _NUMBER.match(norm)
    if found:
        index = int(found[1]) - 1
        return options[index] if 0 <= index < len(options) else None
    if not norm:
        return None
    named = [option for option, name in zip(options, names(), strict=True) if norm in name.lower()]
    return named[0] if len(named) == 1 else None


def _listed_names(slots: dict[str, Any], model: type[Category | Product], name: Any) -> Callable[[], list[str]]:
    """The names the list showed, kept in the state next to the options: whether the text names one is decided
    without the database. A state saved without them gets them in one query ("" for an option gone since)."""

    def names() -> list[str]:
        options: list[int] = slots.get("options", [])
        kept = slots.get("names")
        if isinstance(kept, list) and len(kept) == len(options):
            return kept
        found = dict(model.select(model.id, name).where(model.id.in_(options)).tuples())
        return [found.get(option, "") for option in options]

    return names


def _price(prices: tuple[int, int] | None) -> str:
    if prices is None:
        return "（暂无在售规格）"
    return f"¥{yuan(prices[0])}" if prices[0] == prices[1] else f"¥{yuan(prices[0])}起"


def _example(view: Any) -> str:
    in_stock = [s for s in view.skus if s.stock > 0]
    return spec_text((in_stock or view.skus)[0].spec) or "默认"


def _list_prompt() -> str:
    return "回复数字查看商品，或“下一页”看更多。"
