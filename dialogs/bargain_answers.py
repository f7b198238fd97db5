"""砍价 in chat: "砍价" (on the product just shown, or "砍价 SKU码") starts a bargain and answers with its share card;
"帮砍 砍价号" is a friend's cut (the share page tells friends to send it; following through the bargain's code
cuts at once, see `bargain_visit`); "砍价下单" buys at the price reached; "我的砍价" shows the share cards again."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dialogs.flows import Turn
from dialogs.flows.checkout import parse_address
from dialogs.intents import Intent
from dialogs.offers import offered_sku
from dialogs.replies import Article, News, ReplyLike, yuan
from store.bargain.models import COMPLETE, OPEN, Bargain, BargainOffer
from store.bargain.operations import SCENE_PREFIX, BargainError, buy, cut, offer_for, share_link, start_bargain
from store.catalog.products import Sku
from store.orders.addresses import Address, AddressInput, InvalidAddress, last_address
from store.orders.checkout import CheckoutError, ShopRules, pay_link

_BARGAIN_NO = re.compile(r"K\d{18}")
NO_ADDRESS = (
    "砍价商品需要收货地址：请在“砍价下单”后面写上收货信息，"
    "例如“砍价下单 张三 13800000000 广东省深圳市南山区科技园1号”。"
)


def _offered_sku(turn: Turn) -> int | None:
    return offered_sku(turn, "砍价", BargainOffer, offer_for)


def _address(turn: Turn) -> Address | AddressInput | str:
    rest = turn.text.replace("砍价下单", " ").strip()
    if rest and any(ch.isdigit() for ch in rest):
        try:
            return parse_address(rest)
        except InvalidAddress as exc:
            return "收货信息不完整：" + "；".join(exc.problems.values())
    return last_address(turn.openid) or NO_ADDRESS


def _title(sku_id: int) -> str:
    sku: Any = Sku.get_or_none(Sku.id == sku_id)
    return sku.product.title if sku is not None else "砍价商品"


def bargain_card(bargain: Bargain, public_url: str) -> Article:
    """The share card the starter forwards to friends."""
    sku: Any = Sku.get_or_none(Sku.id == bargain.sku_id)
    left = bargain.helpers - bargain.cuts
    state = (
        f"已砍到¥{yuan(bargain.price_fen)}，还差{left}位好友，{bargain.expires_at:%m月%d日 %H:%M}截止，帮我砍一刀！"
        if bargain.status == OPEN
        else f"已砍到底价¥{yuan(bargain.price_fen)}！"
    )
    return Article(
        f"【砍价】{_title(bargain.sku_id)} 最低¥{yuan(bargain.floor_fen)}", state,
        sku.product.image if sku is not None else "", share_link(public_url, bargain.bargain_no),
    )  # fmt: skip


def make_bargain_answers(
    public_url: str, rules: ShopRules, after_order: Callable[[str, datetime], None]
) -> dict[str, Callable[[Turn, Intent], ReplyLike]]:
    def start(turn: Turn, intent: Intent) -> ReplyLike:
        sku_id = _offered_sku(turn)
        if sku_id is None:
            return "请先打开一件砍价商品再回复“砍价”，或回复“砍价 商品编码”。"
        try:
            bargain = start_bargain(turn.openid, sku_id, turn.now)
        except BargainError as exc:
            return str(exc)
        return News((bargain_card(bargain, public_url),))

    def help_cut(turn: Turn, intent: Intent) -> ReplyLike:
        found = _BARGAIN_NO.search(turn.text)
        if found is None:
            return "请回复“帮砍 砍价号”，砍价号在好友分享的砍价页面上。"
        return cut_reply(found[0], turn.openid, turn.now)

    def order(turn: Turn, intent: Intent) -> ReplyLike:
        address = _address(turn)
        if isinstance(address, str):
            return address
        try:
            bargain, placed = buy(turn.openid, address, turn.now, rules=rules)
        except (BargainError, CheckoutError) as exc:
            return str(exc)
        after_order(placed.order_no, placed.expires_at)
        return (
            f"砍价下单成功！{_title(bargain.sku_id)} 砍价价¥{yuan(placed.payable_fen)}"
            f"（原价¥{yuan(bargain.start_fen)}）。\n去支付：{pay_link(public_url, placed.order_no)}"
        )

    def mine(turn: Turn, intent: Intent) -> ReplyLike:
        bargains = (
            Bargain.select()
            .where(Bargain.starter_openid == turn.openid, Bargain.status.in_([OPEN, COMPLETE]))
            .order_by(Bargain.id.desc())
            .limit(8)
        )
        articles = tuple(bargain_card(b, public_url) for b in bargains)
        return News(articles) if articles else "您还没有进行中的砍价。打开砍价商品回复“砍价”即可发起。"

    return {"bargain_start": start, "bargain_help": help_cut, "bargain_buy": order, "my_bargains": mine}


def cut_reply(bargain_no: str, openid: str, now: datetime) -> str:
    """A friend's cut, as the sentence they are told."""
    try:
        done = cut(bargain_no, openid, now)
    except BargainError as exc:
        return str(exc)
    bargain = done.bargain
    if done.complete:
        return f"您帮好友砍掉了¥{yuan(done.amount_fen)}，已经砍到底价¥{yuan(bargain.price_fen)}啦！"
    return (
        f"您帮好友砍掉了¥{yuan(done.amount_fen)}！现价¥{yuan(bargain.price_fen)}，"
        f"还差{bargain.helpers - bargain.cuts}位好友砍到¥{yuan(bargain.floor_fen)}。回复“砍价”也可以自己发起。"
    )


def bargain_visit(scene: str | None, openid: str, now: datetime) -> str | None:
    """A friend who followed or scanned a bargain's code (scene `kj_{bargain_no}`) cuts at once; what they are
    told. None for any other scene."""
    if not scene or not scene.startswith(SCENE_PREFIX):
        return None
    return cut_reply(scene[len(SCENE_PREFIX) :], openid, now)
