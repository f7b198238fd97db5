"""砍价 operations: offers, starting a bargain, a friend's cut, and buying at the bargained price.

Synchronous, take `now`; run them on a handler thread. A cut is one transaction: the conditional UPDATE that
moves the bargain from `k` to `k + 1` cuts (only while it is open, unexpired and short of its helpers) and the
friend's `BargainCut` row, whose unique `(bargain, helper_openid)` refuses a second cut by the same openid
however the requests race; a lost race on the row is retried with the next amount. Notices to the starter are
written in the same transaction (`store.bargain.notices`). Buying creates an ordinary order with the bargained
price as a fixed price (`create_order(fixed_prices=…)`), so payment, timeouts and refunds are checkout's own.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from store.bargain.models import COMPLETE, OPEN, ORDERED, Bargain, BargainCut, BargainOffer
from store.bargain.notices import notify_complete, notify_cut
from store.bargain.split import cut_amount
from store.catalog.offers import active_offer, replace_offer, sale_number
from store.catalog.products import Sku
from store.core.db import write_transaction
from store.members.followers import Follower
from store.orders.addresses import Address, AddressInput
from store.orders.checkout import CANCELLED as ORDER_CANCELLED
from store.orders.checkout import CartLine, Order, ShopRules, create_order

SCENE_PREFIX = "kj_"  # QR scene of a bargain's share code: kj_{bargain_no}


class BargainError(Exception):
    """Refused; `str()` is a Chinese sentence for the follower."""


class NoOffer(BargainError):
    def __init__(self) -> None:
        super().__init__("这件商品暂时没有砍价活动")


class LimitReached(BargainError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"每人最多发起{limit}次这件商品的砍价")


class BargainClosed(BargainError):
    def __init__(self) -> None:
        super().__init__("这个砍价已经结束了，回复“砍价”可以自己发起一个")


class AlreadyCut(BargainError):
    def __init__(self) -> None:
        super().__init__("您已经帮这位好友砍过一刀了，每人只能砍一次哦")


class OwnBargain(BargainError):
    def __init__(self) -> None:
        super().__init__("不能给自己砍价哦，把分享卡片发给好友，请他们帮忙砍一刀吧")


class NotFollower(BargainError):
    def __init__(self) -> None:
        super().__init__("关注公众号后才能帮好友砍价")


class NothingToBuy(BargainError):
    def __init__(self) -> None:
        super().__init__("您没有可以下单的砍价。打开砍价商品回复“砍价”即可发起。")


class PriceMoved(BargainError):
    def __init__(self) -> None:
        super().__init__("好友刚刚又帮您砍了一刀，价格更低了，请再回复一次“砍价下单”")


@dataclass(frozen=True)
class OfferInput:
    sku_id: int
    floor_fen: int
    helpers: int
    window_hours: int
    limit_per_follower: int = 1
    active: bool = True

    def problems(self, price_fen: int | None = None) -> list[str]:
        found = []
        if self.floor_fen <= 0:
            found.append("floor_fen must be positive")
        if self.helpers < 1 or self.helpers > 100:
            found.append("helpers must be 1..100")
        if self.window_hours <= 0 or self.window_hours > 720:
            found.append("window_hours must be 1..720")
        if self.limit_per_follower < 0:
            found.append("limit_per_follower must be >= 0")
        if price_fen is not None and self.floor_fen > 0 and price_fen - self.floor_fen < self.helpers:
            found.append(f"floor_fen must leave at least 1 fen per helper below the price ({price_fen} fen)")
        return found


@dataclass(frozen=True)
class Cut:
    bargain: Bargain
    amount_fen: int
    seq: int

    @property
    def complete(self) -> bool:
        return self.bargain.status == COMPLETE


def set_offer(offer: OfferInput, now: datetime) -> BargainOffer:
    """Create or replace the SKU's bargain offer (bargains already started keep their own terms)."""
    sku = Sku.get_or_none(Sku.id == offer.sku_id)
    if sku is None:
        raise ValueError(f"no SKU {offer.sku_id}")
    problems = offer.problems(sku.price_fen)
    if problems:
        raise ValueError("; ".join(problems))
    fields = dict(floor_fen=offer.floor_fen, helpers=offer.helpers, window_hours=offer.window_hours,
                  limit_per_follower=offer.limit_per_follower, active=offer.active, updated_at=now)  # fmt: skip
    return replace_offer(BargainOffer, offer.sku_id, fields)


def offer_for(sku_id: int) -> BargainOffer | None:
    return active_offer(BargainOffer, sku_id)


def new_bargain_no(now: datetime) -> str:
    return sale_number("K", now)


def share_link(public_url: str, bargain_no: str) -> str:
    return f"{public_url.rstrip('/')}/k/{bargain_no}"


def start_bargain(openid: str, sku_id: int, now: datetime, *, seed: int | None = None) -> Bargain:
    """砍价: a bargain from the SKU's current price down to the offer's floor; `seed` fixes its cuts (tests)."""
    offer = offer_for(sku_id)
    if offer is None:
        raise NoOffer()
    sku = Sku.get_by_id(sku_id)
    if sku.price_fen - offer.floor_fen < offer.helpers:
        raise NoOffer()
    with write_transaction():
        if offer.limit_per_follower > 0:
            held = Bargain.select().where(Bargain.offer == offer.id, Bargain.starter_openid == openid).count()
            if held >= offer.limit_per_follower:
                raise LimitReached(offer.limit_per_follower)
        return Bargain.create(
            bargain_no=new_bargain_no(now), offer=offer.id, sku_id=sku_id, starter_openid=openid,
            start_fen=sku.price_fen, floor_fen=offer.floor_fen, helpers=offer.helpers,
            seed=secrets.randbits(62) if seed is None else seed, cuts=0, price_fen=sku.price_fen, status=OPEN,
            created_at=now, expires_at=now + timedelta(hours=offer.window_hours),
        )  # fmt: skip


class _LostRace(Exception):
    pass


def cut(bargain_no: str, helper_openid: str, now: datetime, *, title: str = "") -> Cut:
    """A friend's one cut. Refused when the bargain is over (`BargainClosed`), the friend is the starter
    (`OwnBargain`), has unfollowed (`NotFollower`) or has cut it before (`AlreadyCut`)."""
    bargain = Bargain.get_or_none(Bargain.bargain_no == bargain_no)
    if bargain is None:
        raise BargainClosed()
    if bargain.starter_openid == helper_openid:
        raise OwnBargain()
    if Follower.select().where(Follower.openid == helper_openid, Follower.subscribed == False).exists():  # noqa: E712
        raise NotFollower()  # unknown openids pass: WeChat only lets followers message the account
    for _ in range(bargain.helpers + 1):  # each lost race means another friend's cut landed: at most `helpers`
        try:
            return _cut_once(bargain.id, helper_openid, now, title)
        except _LostRace:
            continue
    raise BargainClosed()


def _cut_once(bargain_id: int, helper_openid: str, now: datetime, title: str) -> Cut:
    with write_transaction():
        bargain = Bargain.get_by_id(bargain_id)
        if bargain.status != OPEN or bargain.expires_at <= now or bargain.cuts >= bargain.helpers:
            raise BargainClosed()
        mine = BargainCut.select().where(BargainCut.bargain == bargain.id, BargainCut.helper_openid == helper_openid)
        if mine.exists():
            raise AlreadyCut()
        seq = bargain.cuts + 1
        amount = cut_amount(bargain.start_fen - bargain.floor_fen, bargain.helpers, bargain.seed, seq)
        last = seq == bargain.helpers
        moved = (
            Bargain.update(
                cuts=Bargain.cuts + 1, price_fen=Bargain.price_fen - amount,
                status=COMPLETE if last else OPEN, completed_at=now if last else None,
            )
            .where(Bargain.id == bargain.id, Bargain.cuts == bargain.cuts, Bargain.status == OPEN,
                   Bargain.expires_at > now)
            .execute()
        )  # fmt: skip
        if not moved:
            raise _LostRace()
        try:
            with write_transaction():
                BargainCut.create(bargain=bargain.id, helper_openid=helper_openid, seq=seq, amount_fen=amount,
                                  cut_at=now)  # fmt: skip
        except peewee.IntegrityError:  # the same friend cutting twice at once
            raise AlreadyCut() from None
        bargain = Bargain.get_by_id(bargain.id)
        goods = title or _title(bargain.sku_id)
        if last:
            notify_complete(bargain, goods, now)
        else:
            notify_cut(bargain, goods, now)
    return Cut(bargain, amount, seq)


def _title(sku_id: int) -> str:
    sku = Sku.get_or_none(Sku.id == sku_id)
    return sku.product.title if sku is not None else "砍价商品"


def buyable(openid: str, now: datetime) -> Bargain | None:
    """The starter's newest bargain that may be bought: open and unexpired, complete, or ordered but that order
    was cancelled unpaid."""
    for bargain in Bargain.select().where(Bargain.starter_openid == openid).order_by(Bargain.id.desc()).limit(10):
        if (bargain.status == OPEN and bargain.expires_at > now) or bargain.status == COMPLETE:
            return bargain
        if bargain.status == ORDERED and bargain.order_no:
            order = Order.get_or_none(Order.order_no == bargain.order_no)
            if order is None or order.status == ORDER_CANCELLED:
                return bargain
    return None


def buy(
    openid: str, address: AddressInput | Address | None, now: datetime, *, rules: ShopRules
) -> tuple[Bargain, Order]:
    """砍价下单: an unpaid order at the bargain's price now (the floor when complete); the bargain stops taking
    cuts. Raises `NothingToBuy`, or checkout's errors (stock, address)."""
    bargain = buyable(openid, now)
    if bargain is None:
        raise NothingToBuy()
    with write_transaction():
        taken = (
            Bargain.update(status=ORDERED, closed_at=now)
            .where(Bargain.id == bargain.id, Bargain.cuts == bargain.cuts, Bargain.status == bargain.status)
            .execute()
        )
        if not taken:  # a friend's cut landed meanwhile: the price just changed
            raise PriceMoved()
        order = create_order(openid, [CartLine(bargain.sku_id, 1)], address, [], 0, now, rules=rules,
                             fixed_prices={bargain.sku_id: bargain.price_fen})  # fmt: skip
        Bargain.update(order_no=order.order_no).where(Bargain.id == bargain.id).execute()
    return Bargain.get_by_id(bargain.id), order


def bargain_view(bargain_no: str) -> tuple[Bargain, list[BargainCut]] | None:
    """A bargain and its cuts, in order (the share page)."""
    bargain = Bargain.get_or_none(Bargain.bargain_no == bargain_no)
    if bargain is None:
        return None
    return bargain, list(BargainCut.select().where(BargainCut.bargain == bargain.id).order_by(BargainCut.seq))
