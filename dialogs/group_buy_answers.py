"""拼团 in chat: "开团" (on the product just shown, or "开团 SKU码"), "参团 团号" (the share page's button sends
it) and "我的拼团" (the share card of each open group). Orders reuse checkout's pay link and unpaid timeout; the
group itself starts in `store.group_buy.operations.admit_payment` when the leader's payment lands."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dialogs.flows import Turn
from dialogs.flows.checkout import parse_address
from dialogs.intents import Intent
from dialogs.offers import offered_sku
from dialogs.replies import Article, News, ReplyLike
from store.catalog.products import Sku
from store.core.money import yuan
from store.group_buy.models import OPEN, Group, GroupMember, GroupOffer
from store.group_buy.operations import (
    SCENE_PREFIX,
    GroupBuyError,
    GroupClosed,
    group_view,
    join_group,
    offer_for,
    share_link,
    start_group,
)
from store.orders.addresses import Address, AddressInput, InvalidAddress, last_address
from store.orders.checkout import CheckoutError, ShopRules, pay_link

_GROUP_NO = re.compile(r"G\d{18}")
NO_ADDRESS = (
    "拼团商品需要收货地址：请在{verb}后面写上收货信息，"
    "例如“{verb} {ref} 张三 13800000000 广东省深圳市南山区科技园1号”。"
)


def _offered_sku(turn: Turn) -> int | None:
    return offered_sku(turn, "开团", GroupOffer, offer_for)


def _address(turn: Turn, command: str, ref: str) -> Address | AddressInput | str:
    """The address written after the command (it is remembered for next time), else the last one used; or the
    sentence asking for one."""
    rest = turn.text.replace(command, " ")
    rest = (rest.replace(ref, " ") if ref else rest).strip()
    if rest and any(ch.isdigit() for ch in rest):
        try:
            return parse_address(rest)
        except InvalidAddress as exc:
            return "收货信息不完整：" + "；".join(exc.problems.values())
    return last_address(turn.openid) or NO_ADDRESS.format(verb=command, ref=ref or "团号")


def _order_reply(verb: str, group: Group, order_no: str, payable_fen: int, public_url: str) -> str:
    return (
        f"{verb}成功！团号 {group.group_no}，{group.size}人成团，拼团价{yuan(payable_fen)}。\n"
        f"去支付：{pay_link(public_url, order_no)}\n"
        f"{group.window_hours}小时内未成团将自动全额退款。回复“我的拼团”获取分享卡片，邀请好友参团。"
    )


def make_group_answers(
    public_url: str, rules: ShopRules, after_order: Callable[[str, datetime], None]
) -> dict[str, Callable[[Turn, Intent], ReplyLike]]:
    def start(turn: Turn, intent: Intent) -> ReplyLike:
        sku_id = _offered_sku(turn)
        if sku_id is None:
            return "请先打开一件拼团商品再回复“开团”，或回复“开团 商品编码”。"
        code = Sku.get_by_id(sku_id).code
        address = _address(turn, "开团", code if code in turn.text else "")
        if isinstance(address, str):
            return address
        try:
            group, order = start_group(turn.openid, sku_id, address, turn.now, rules=rules)
        except (GroupBuyError, CheckoutError) as exc:
            return str(exc)
        after_order(order.order_no, order.expires_at)
        return _order_reply("开团", group, order.order_no, order.payable_fen, public_url)

    def join(turn: Turn, intent: Intent) -> ReplyLike:
        found = _GROUP_NO.search(turn.text)
        if found is None:
            return "请回复“参团 团号”，团号在好友分享的拼团页面上。"
        group = Group.get_or_none(Group.group_no == found[0])
        if group is None or group.status != OPEN:
            return str(GroupClosed())
        address = _address(turn, "参团", found[0])
        if isinstance(address, str):
            return address
        try:
            group, order = join_group(turn.openid, found[0], address, turn.now, rules=rules)
        except (GroupBuyError, CheckoutError) as exc:
            return str(exc)
        after_order(order.order_no, order.expires_at)
        return _order_reply("参团", group, order.order_no, order.payable_fen, public_url)

    def mine(turn: Turn, intent: Intent) -> ReplyLike:
        return my_group_cards(turn.openid, public_url) or "您还没有进行中的拼团。打开拼团商品回复“开团”即可发起。"

    return {"group_start": start, "group_join": join, "my_groups": mine}


def my_group_cards(openid: str, public_url: str) -> News | None:
    """The share card of each open group the follower paid into (the one the leader forwards to friends)."""
    groups = (
        Group.select()
        .join(GroupMember)
        .where(GroupMember.openid == openid, GroupMember.status == "paid", Group.status == OPEN)
        .order_by(Group.id.desc())
        .limit(8)
    )
    articles = tuple(_card(group, public_url) for group in groups)
    return News(articles) if articles else None


def _card(group: Group, public_url: str) -> Article:
    sku: Any = Sku.get_or_none(Sku.id == group.sku_id)
    title = sku.product.title if sku is not None else "拼团商品"
    left = group.size - group.paid
    return Article(
        f"【{group.size}人团】{yuan(group.price_fen)} {title}",
        f"还差{left}人成团，{group.expires_at:%m月%d日 %H:%M}截止，点开一起拼！",
        sku.product.image if sku is not None else "",
        share_link(public_url, group.group_no),
    )


def group_invite(scene: str | None) -> str | None:
    """What a friend who scanned a group's code (scene `grp_{group_no}`) is told: how to join, or that it is over;
    None for any other scene."""
    if not scene or not scene.startswith(SCENE_PREFIX):
        return None
    found = group_view(scene[len(SCENE_PREFIX) :])
    if found is None:
        return None
    group, members = found
    if group.status != OPEN:
        return "这个团已经结束了，回复“开团”可以自己发起一个新团。"
    sku: Any = Sku.get_or_none(Sku.id == group.sku_id)
    title = sku.product.title if sku is not None else "拼团商品"
    return (
        f"好友邀请您一起拼团：{title}，{group.size}人团{yuan(group.price_fen)}，还差{group.size - len(members)}人。"
        f"回复“参团 {group.group_no}”即可参团。"
    )
