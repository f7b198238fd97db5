"""Orders: checkout's store API. Everything here is synchronous (run it on a handler thread) and takes `now`.

API for the chat flow (dialogs/flows) — build `rules = ShopRules.from_settings(config.shop)` once:

    quote(openid, lines, coupon_codes, points, now, rules=rules) -> Quote
        Prices a cart for the confirmation dialog without changing anything: `quote.priced.explanation()` is
        one Chinese line per adjustment (applied or not, and why); `quote.needs_address` is False when every
        line is virtual; `quote.points_balance`. Points above the balance are capped here, not refused.
    create_order(openid, lines, address, coupon_codes, points, now, rules=rules, expected_payable_fen=None) -> Order
        One transaction: price, lock coupons, take points, reserve stock (all or nothing), write the order.
        Pass the confirmed `quote.priced.payable_fen` as `expected_payable_fen` so a price that changed in
        between is refused (`PriceChanged`) rather than charged, and the `order_no` drawn (`new_order_no`) when
        the confirmation was shown, so that a confirmation handled twice finds its order instead of placing
        another. `address` is an `AddressInput`
        (`store.orders.addresses.validate_address`), a saved `Address`, or None for virtual-only carts; it is
        remembered for next time. Then schedule the timeout: `jobs.schedule_cancel(order.order_no,
        order.expires_at)` (the minute sweep cancels anyway if that fails), and reply `pay_link(public_url,
        order.order_no)`.
        Raises (all `CheckoutError`, each with a Chinese `str()` fit for the buyer): `EmptyOrder`,
        `SkuUnavailable(sku_id)`, `OutOfStock(skus)`, `AddressRequired`, `CouponUnavailable(code, reason)`,
        `NotEnoughPoints(wanted, balance)`, `PriceChanged(priced)`, `EarlyAccessOnly(title, tier, until)` (优先购:
        the product is a higher tier's until then); `store.orders.addresses.InvalidAddress` too.
    cancel_if_unpaid(order_no, now, reason="buyer") -> bool
        "取消订单": releases stock, coupons and points exactly once (False when it was not unpaid).
    store.orders.views: recent_orders(openid, limit) / order_detail(order_no, openid) for "我的订单" / "订单详情".
    store.orders.addresses: validate_address, last_address, addresses_of — "寄到上次的地址吗？".
    store.promotions.coupons: available_coupons(openid, now) — the coupons to offer at checkout.

Status machine: unpaid → paid → shipped → completed; unpaid → cancelled (timeout, buyer, operator);
拼团 orders (`store.group_buy`): unpaid → grouping → paid once the group fills, or grouping → group_failed →
refunding → refunded when its window ends unfilled (a failed refund settles back to group_failed, never paid);
paid/shipped/completed → refunding → refunded | partially_refunded (or back, when a refund fails).
Every transition is a conditional UPDATE on the current status, so it happens once however many callers race.
Payment (`store.orders.payments.mark_paid`) and refunds (`store.orders.refunds`) are the other transitions.

Order numbers are `yyyymmddHHMMSS` (Asia/Shanghai, from the clock) + 10 random digits: 24 characters, usable
as WeChat Pay's `out_trade_no` (≤ 32, `[0-9A-Za-z_-]`), sortable by time, unguessable enough that a pay link
cannot be enumerated (and a pay page still checks the payer's openid).
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import peewee

from store.catalog.inventory import UnknownSku, release_stock, take_many
from store.catalog.products import Product, Sku, parse_spec
from store.core.db import BaseModel, ShanghaiDateTimeField, is_sqlite, write_transaction
from store.core.hot_sql import Insert, Statement
from store.core.money import yuan
from store.members import accounts as members
from store.members.accounts import MemberRules, PointsShort
from store.orders.addresses import Address, AddressInput, remember_address, validate_address
from store.orders.pricing import PricedOrder, PriceLine, PricingRules, Tier, price_order
from store.promotions import coupons as coupon_store

_STAMP = ShanghaiDateTimeField()  # reads the early-access time of the prepared SKU select

UNPAID, PAID, SHIPPED, COMPLETED = "unpaid", "paid", "shipped", "completed"
CANCELLED, REFUNDING, REFUNDED, PARTIALLY_REFUNDED = "cancelled", "refunding", "refunded", "partially_refunded"
GROUPING, GROUP_FAILED = "grouping", "group_failed"  # 拼团: paid, waiting for the group to fill / it did not
GROUP_FAILED_REASON = "group_failed"  # cancel_reason of a paid group order whose group did not fill
STATUS_LABELS = {
    UNPAID: "待支付",
    PAID: "已支付，待发货",
    SHIPPED: "已发货",
    COMPLETED: "已完成",
    CANCELLED: "已取消",
    REFUNDING: "退款中",
    REFUNDED: "已退款",
    PARTIALLY_REFUNDED: "部分退款",
    GROUPING: "已支付，拼团中",
    GROUP_FAILED: "拼团未成，待退款",
}
MAX_LINES = 20
MAX_QUANTITY = 99



class Order(BaseModel):
    order_no = peewee.CharField(max_length=32, unique=True)
    openid = peewee.CharField(max_length=64, index=True)
    status = peewee.CharField(max_length=24, default=UNPAID)
    title = peewee.CharField(max_length=120)  # "法式碎花连衣裙 等3件": the pay body and list line
    tier = peewee.CharField(max_length=16, default=Tier.NORMAL.value)
    subtotal_fen = peewee.BigIntegerField()
    discount_fen = peewee.BigIntegerField(default=0)
    points_used = peewee.BigIntegerField(default=0)
    points_fen = peewee.BigIntegerField(default=0)
    payable_fen = peewee.BigIntegerField(constraints=[peewee.Check("payable_fen > 0")])
    refunded_fen = peewee.BigIntegerField(default=0)
    pricing = peewee.TextField(default="")  # the confirmation's explanation lines, one per line
    needs_shipping = peewee.BooleanField(default=True)
    ship_name = peewee.CharField(max_length=32, null=True)
    ship_phone = peewee.CharField(max_length=16, null=True)
    ship_region = peewee.CharField(max_length=64, null=True)
    ship_detail = peewee.CharField(max_length=200, null=True)
    created_at = ShanghaiDateTimeField()
    expires_at = ShanghaiDateTimeField()
    paid_at = ShanghaiDateTimeField(null=True)
    transaction_id = peewee.CharField(max_length=64, null=True)
    cancelled_at = ShanghaiDateTimeField(null=True)
    cancel_reason = peewee.CharField(max_length=16, null=True)
    shipped_at = ShanghaiDateTimeField(null=True)
    completed_at = ShanghaiDateTimeField(null=True)
    buyer_notified_at = ShanghaiDateTimeField(null=True)  # unused: the paid notice is in the outbox now

    class Meta:
        indexes = (
            (("status", "expires_at"), False),
            (("openid", "created_at"), False),
            (("paid_at",), False),  # the shop metrics: GMV, order value and paid counts by payment time
            (("created_at",), False),  # ... and the day's orders (cancellation, payment success)
        )

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    def address_line(self) -> str:
        if not self.needs_shipping or not self.ship_name:
            return "虚拟商品，无需收货地址"
        return f"{self.ship_name} {self.ship_phone} {self.ship_region} {self.ship_detail}"


class OrderLine(BaseModel):
    """A snapshot of what was bought: SKUs may change or disappear later, an order may not."""

    order = peewee.ForeignKeyField(Order, backref="lines", on_delete="CASCADE")
    sku_id = peewee.IntegerField()
    sku_code = peewee.CharField(max_length=64)
    title = peewee.CharField(max_length=255)
    spec = peewee.CharField(max_length=255, default="")
    virtual = peewee.BooleanField(default=False)
    unit_price_fen = peewee.BigIntegerField()
    quantity = peewee.IntegerField()
    subtotal_fen = peewee.BigIntegerField()
    discounted_fen = peewee.BigIntegerField()
    paid_fen = peewee.BigIntegerField()
    restocked_qty = peewee.IntegerField(default=0)


# ---- errors -----------------------------------------------------------------------------------------------------


class CheckoutError(Exception):
    """Checkout refused; `str(error)` is a Chinese sentence for the buyer."""


class EmptyOrder(CheckoutError):
    def __init__(self, why: str = "购物车是空的") -> None:
        super().__init__(why)


class SkuUnavailable(CheckoutError):
    def __init__(self, sku_id: int, title: str = "") -> None:
        super().__init__(f"{title or '该商品'}已下架")
        self.sku_id = sku_id


class EarlyAccessOnly(CheckoutError):
    """优先购: the product is for a higher tier until `until`."""

    def __init__(self, title: str, tier: Tier, until: datetime) -> None:
        super().__init__(f"“{title}”{until:%m月%d日 %H:%M}前仅限{tier.label}及以上优先购买，届时欢迎再来。")
        self.tier, self.until = tier, until


def early_access_check(skus: Iterable[SkuSnapshot], tier: Tier, now: datetime) -> None:
    """Raise `EarlyAccessOnly` for the first product still in a window this tier is not allowed into."""
    for sku in skus:
        if sku.early_access_tier and sku.early_access_until is not None and now < sku.early_access_until:
            needed = Tier(sku.early_access_tier)
            if TIER_RANK[tier] < TIER_RANK[needed]:
                raise EarlyAccessOnly(sku.title, needed, sku.early_access_until)


TIER_RANK = {Tier.NORMAL: 0, Tier.VIP: 1, Tier.BLACK_GOLD: 2}


def early_access_refusal(order: Order, now: datetime) -> str | None:
    """The pay page's check: why this order may not be paid now (a product of it went into an early-access window
    its buyer's tier is not in since it was placed), or None. The tier is the member's stored one."""
    sku_ids = [line.sku_id for line in OrderLine.select(OrderLine.sku_id).where(OrderLine.order == order.id)]
    if not sku_ids:
        return None
    row = members.member(order.openid)
    tier = Tier(row.tier) if row is not None else Tier.NORMAL
    try:
        early_access_check(_load_skus([CartLine(sku_id, 1) for sku_id in sku_ids]).values(), tier, now)
    except EarlyAccessOnly as exc:
        return str(exc)
    except SkuUnavailable:
        return None  # off sale since: the order was placed before, and pricing is not this check's business
    return None


class OutOfStock(CheckoutError):
    def __init__(self, skus: Sequence[tuple[int, str, int]]) -> None:
        """`skus`: (sku_id, title, units left) of every line that could not be reserved."""
        names = "、".join(f"{title}（仅剩{left}件）" if left else f"{title}（已售罄）" for _, title, left in skus)
        super().__init__(f"库存不足：{names}")
        self.skus = list(skus)

    @property
    def sku_ids(self) -> list[int]:
        return [s[0] for s in self.skus]


class AddressRequired(CheckoutError):
    def __init__(self) -> None:
        super().__init__("请先填写收货地址")


class CouponUnavailable(CheckoutError):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"优惠券{code}不能使用：{reason}")
        self.code = code
        self.reason = reason


class PriceChanged(CheckoutError):
    def __init__(self, priced: PricedOrder) -> None:
        super().__init__(f"价格有变化，现在应付{yuan(priced.payable_fen)}，请重新确认")
        self.priced = priced


class NotEnoughPoints(CheckoutError):
    def __init__(self, wanted: int, balance: int) -> None:
        super().__init__(f"积分不足：需要{wanted}积分，当前只有{balance}积分")
        self.wanted = wanted
        self.balance = balance


# ---- inputs and settings --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CartLine:
    sku_id: int
    quantity: int


@dataclass(frozen=True)
class ShopRules:
    """The `[shop]` rules checkout needs, read once from config (store never reads config itself)."""

    pricing: PricingRules = field(default_factory=PricingRules)
    members: MemberRules = field(default_factory=MemberRules)
    unpaid_timeout: timedelta = timedelta(minutes=30)

    @classmethod
    def from_settings(cls, shop: Any) -> ShopRules:
        return cls(
            pricing=PricingRules.from_settings(shop),
            members=MemberRules.from_settings(shop),
            unpaid_timeout=timedelta(minutes=int(shop.unpaid_timeout_minutes)),
        )


@dataclass(frozen=True)
class Quote:
    priced: PricedOrder
    skus: dict[int, SkuSnapshot]
    needs_address: bool
    points_balance: int


# ---- pricing a cart ---------------------------------------------------------------------------------------------


def _merge(lines: Sequence[CartLine]) -> list[CartLine]:
    """Same SKU twice is one line; quantities must be positive integers."""
    merged: dict[int, int] = {}
    for line in lines:
        if not isinstance(line.quantity, int) or isinstance(line.quantity, bool) or line.quantity <= 0:
            raise EmptyOrder(f"数量必须是正整数（收到{line.quantity!r}）")
        merged[line.sku_id] = merged.get(line.sku_id, 0) + line.quantity
    if not merged:
        raise EmptyOrder()
    if len(merged) > MAX_LINES:
        raise EmptyOrder(f"一单最多{MAX_LINES}种商品")
    for quantity in merged.values():
        if quantity > MAX_QUANTITY:
            raise EmptyOrder(f"单件商品一次最多买{MAX_QUANTITY}件")
    return [CartLine(sku_id, quantity) for sku_id, quantity in merged.items()]


@dataclass(frozen=True)
class SkuSnapshot:
    """What checkout reads of a SKU and its product, as of the quote."""

    id: int
    code: str
    spec: str
    price_fen: int
    virtual: bool
    on_sale: bool
    title: str  # the product's
    early_access_tier: str | None = None  # 优先购权: only this tier or above may buy it ...
    early_access_until: datetime | None = None  # ... until then

    @property
    def line_title(self) -> str:
        """`法式碎花连衣裙（红色，M）`: the title pricing explains lines by."""
        spec = "，".join(parse_spec(self.spec).values())
        return f"{self.title}（{spec}）" if spec else self.title


_SKU_SELECTS: dict[int, Statement] = {}


def _sku_select(count: int) -> Statement:
    """One SELECT per cart size, written once (peewee would rebuild the join on every call)."""
    statement = _SKU_SELECTS.get(count)
    if statement is None:
        marks = ", ".join(["{p}"] * count)
        statement = Statement(Sku, (
            'SELECT s."id", s."code", s."spec", s."price_fen", s."virtual", s."on_sale" AND p."on_sale", p."title", '
            'p."early_access_tier", p."early_access_until" '
            f'FROM {{t}} AS s JOIN "{Product._meta.table_name}" AS p ON p."id" = s."product_id" '
            f'WHERE s."id" IN ({marks})'
        ))  # fmt: skip
        _SKU_SELECTS[count] = statement
    return statement


def _load_skus(lines: Sequence[CartLine]) -> dict[int, SkuSnapshot]:
    ids = [line.sku_id for line in lines]
    rows = _sku_select(len(ids)).execute(ids).fetchall()
    found = {
        int(r[0]): SkuSnapshot(int(r[0]), r[1], r[2] or "", int(r[3]), bool(r[4]), bool(r[5]), r[6], r[7],
                               _STAMP.python_value(r[8]) if r[8] is not None else None)
        for r in rows
    }  # fmt: skip
    for sku_id in ids:
        sku = found.get(sku_id)
        if sku is None or not sku.on_sale:
            raise SkuUnavailable(sku_id, sku.title if sku else "")
    return found


def _price_lines(
    lines: Sequence[CartLine], skus: dict[int, SkuSnapshot], fixed_prices: Mapping[int, int] | None = None
) -> list[PriceLine]:
    prices = fixed_prices or {}
    return [PriceLine(line.sku_id, skus[line.sku_id].line_title, prices.get(line.sku_id, skus[line.sku_id].price_fen),
                      line.quantity)
            for line in lines]  # fmt: skip


def quote(
    openid: str, lines: Sequence[CartLine], coupon_codes: Sequence[str], points: int, now: datetime, *,
    rules: ShopRules,
) -> Quote:  # fmt: skip
    """Price the cart as `create_order` would, changing nothing (points capped by the balance)."""
    lines = _merge(lines)
    skus = _load_skus(lines)
    tier, balance = members.standing(openid, now, rules.members)
    offers = coupon_store.offers_for(openid, coupon_codes, now)
    priced = price_order(_price_lines(lines, skus), tier, offers, min(max(points, 0), balance), rules.pricing, now)
    needs_address = any(not s.virtual for s in skus.values())
    return Quote(priced=priced, skus=skus, needs_address=needs_address, points_balance=balance)


# ---- creating an order -------------------------------------------------------------------------------------------


def new_order_no(now: datetime) -> str:
    return f"{now:%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


def pay_link(public_url: str, order_no: str) -> str:
    """The link the chat replies with; `GET /pay/{order_no}` does the OAuth and shows the pay page."""
    return f"{public_url.rstrip('/')}/pay/{order_no}"


def _address_input(address: AddressInput | Address | None) -> AddressInput | None:
    if address is None:
        return None
    return validate_address(address.name, address.phone, address.region, address.detail)


def create_order(
    openid: str,
    lines: Sequence[CartLine],
    address: AddressInput | Address | None,
    coupon_codes: Sequence[str],
    points: int,
    now: datetime,
    *,
    rules: ShopRules,
    expected_payable_fen: int | None = None,
    order_no: str | None = None,
    fixed_prices: Mapping[int, int] | None = None,
) -> Order:
    """Create an unpaid order, reserving stock, coupons and points; see the module docstring for errors.
    With `order_no` (drawn with `new_order_no` before the buyer confirmed), idempotent: when this buyer's order
    of that number exists already (a retry of the confirmation, after a process died before answering), it
    is returned as it is and nothing is taken twice.

    `fixed_prices` (sku id → unit fen, the 拼团 price) replaces the catalogue price and is charged as it is: no
    member discount or 满减 on top (coupons and points are the caller's to leave out)."""
    if order_no is not None and (placed := _placed(openid, order_no)) is not None:
        return placed
    lines = _merge(lines)
    skus = _load_skus(lines)
    needs_shipping = any(not s.virtual for s in skus.values())
    ship = _address_input(address)
    if needs_shipping and ship is None:
        raise AddressRequired()
    if points < 0:
        raise NotEnoughPoints(points, 0)
    tier, balance = members.standing(openid, now, rules.members)
    early_access_check(skus.values(), tier, now)
    if points > balance:
        raise NotEnoughPoints(points, balance)
    offers = coupon_store.offers_for(openid, coupon_codes, now)
    for offer in offers:
        if offer.unavailable:
            raise CouponUnavailable(offer.code, offer.unavailable)
    pricing = rules.pricing
    if fixed_prices:
        tier, pricing = Tier.NORMAL, dataclasses.replace(pricing, full_reduction_fen=0)
    priced = price_order(_price_lines(lines, skus, fixed_prices), tier, offers, points, pricing, now)
    if priced.payable_fen <= 0:
        raise EmptyOrder("订单金额为0，无法下单")
    if expected_payable_fen is not None and expected_payable_fen != priced.payable_fen:
        raise PriceChanged(priced)
    ship = ship if needs_shipping else None
    for attempt in range(3):
        try:
            return _place(openid, lines, skus, priced, ship, now, rules, order_no or new_order_no(now))
        except peewee.IntegrityError:  # the one unique value is the order number: ours already, or draw again
            if order_no is not None and (placed := _placed(openid, order_no)) is not None:
                return placed
            if attempt == 2:
                raise
            order_no = None
    raise AssertionError("unreachable")


def _placed(openid: str, order_no: str) -> Order | None:
    return Order.get_or_none((Order.order_no == order_no) & (Order.openid == openid))


def _place(
    openid: str, lines: Sequence[CartLine], skus: dict[int, SkuSnapshot], priced: PricedOrder,
    ship: AddressInput | None, now: datetime, rules: ShopRules, order_no: str,
) -> Order:  # fmt: skip
    """The one transaction: order rows, coupons, points, the address for next time, and the stock last."""
    with write_transaction():
        order = _insert_order(openid, priced, skus, ship, now, rules, order_no)
        refused = coupon_store.lock_coupons(openid, priced.coupon_codes_used, order.order_no, now)
        if refused:
            raise CouponUnavailable(refused[0], "刚刚被其他订单使用或已失效")
        if priced.points_used:
            try:
                members.spend_points(openid, priced.points_used, order.order_no, now)
            except PointsShort as short:
                raise NotEnoughPoints(short.wanted, short.balance) from None
        if ship is not None:
            remember_address(openid, ship, now)
        # Last, so the hot SKU rows stay locked (PostgreSQL) for as short a time as possible.
        if not take_many([(line.sku_id, line.quantity) for line in lines], now):
            raise OutOfStock(_short(lines, skus))
    return order


def _short(lines: Sequence[CartLine], skus: dict[int, SkuSnapshot]) -> list[tuple[int, str, int]]:
    """Which lines could not be had (read after the refused decrement; a concurrent restock may hide one)."""
    stock = dict(Sku.select(Sku.id, Sku.stock).where(Sku.id.in_([line.sku_id for line in lines])).tuples())
    short = [(line.sku_id, skus[line.sku_id].line_title, int(stock.get(line.sku_id, 0)))
             for line in lines if stock.get(line.sku_id, 0) < line.quantity]  # fmt: skip
    return short or [(lines[0].sku_id, skus[lines[0].sku_id].line_title, 0)]


_ORDER_INSERT = Insert(Order, (
    "order_no", "openid", "status", "title", "tier", "subtotal_fen", "discount_fen", "points_used", "points_fen",
    "payable_fen", "refunded_fen", "pricing", "needs_shipping", "ship_name", "ship_phone", "ship_region",
    "ship_detail", "created_at", "expires_at",
))  # fmt: skip
_LINE_INSERT = Insert(OrderLine, (
    "order", "sku_id", "sku_code", "title", "spec", "virtual", "unit_price_fen", "quantity", "subtotal_fen",
    "discounted_fen", "paid_fen", "restocked_qty",
))  # fmt: skip


def _insert_order(
    openid: str, priced: PricedOrder, skus: dict[int, SkuSnapshot], ship: AddressInput | None, now: datetime,
    rules: ShopRules, order_no: str,
) -> Order:  # fmt: skip
    first = priced.lines[0].line
    count = sum(p.line.quantity for p in priced.lines)
    title = skus[first.sku_id].title[:100] + (f" 等{count}件" if count > 1 else "")
    fields = dict(
        openid=openid, status=UNPAID, title=title, tier=priced.tier.value, subtotal_fen=priced.subtotal_fen,
        discount_fen=priced.discount_fen, points_used=priced.points_used, points_fen=priced.points_fen,
        payable_fen=priced.payable_fen, pricing="\n".join(priced.explanation()), needs_shipping=ship is not None,
        ship_name=ship and ship.name, ship_phone=ship and ship.phone, ship_region=ship and ship.region,
        ship_detail=ship and ship.detail, created_at=now, expires_at=now + rules.unpaid_timeout,
    )  # fmt: skip
    order = Order(order_no=order_no, refunded_fen=0, **fields)
    order.id = _ORDER_INSERT.execute([order.__data__])
    _LINE_INSERT.execute([
        dict(
            order=order.id, sku_id=p.line.sku_id, sku_code=skus[p.line.sku_id].code,
            title=skus[p.line.sku_id].title, spec=skus[p.line.sku_id].spec,
            virtual=skus[p.line.sku_id].virtual, unit_price_fen=p.line.unit_price_fen, quantity=p.line.quantity,
            subtotal_fen=p.subtotal_fen, discounted_fen=p.discounted_fen, paid_fen=p.paid_fen, restocked_qty=0,
        )
        for p in priced.lines
    ])  # fmt: skip
    return order


# ---- cancelling ------------------------------------------------------------------------------------------------


def cancel_if_unpaid(order_no: str, now: datetime, reason: str = "buyer") -> bool:
    """Cancel an unpaid order and give back its stock, coupons and points — exactly once.

    The conditional UPDATE (`status = 'unpaid'`) is the gate: a second call, a racing timeout job or a payment
    that got there first all find no unpaid row and change nothing. With `reason="timeout"` the order must
    also be past `expires_at`, so an early job run cannot cancel an order the buyer may still pay.
    """
    with write_transaction():
        query = Order.update(status=CANCELLED, cancelled_at=now, cancel_reason=reason).where(
            Order.order_no == order_no, Order.status == UNPAID
        )
        if reason == "timeout":
            query = query.where(Order.expires_at <= now)
        if not query.execute():
            return False
        order = Order.get(Order.order_no == order_no)
        for line in OrderLine.select().where(OrderLine.order == order.id):
            with contextlib.suppress(UnknownSku):  # deleted from the catalog since: nothing to give back to
                release_stock(line.sku_id, line.quantity)
        coupon_store.release_coupons(order_no, now)
        members.return_points(order.openid, order.points_used, order_no, now)
    return True


def expired_unpaid(now: datetime, limit: int = 500) -> list[str]:
    """Order numbers still unpaid after their deadline, oldest first: what the minute sweep cancels."""
    query = (
        Order.select(Order.order_no)
        .where(Order.status == UNPAID, Order.expires_at <= now)
        .order_by(Order.expires_at)
        .limit(limit)
    )
    return [row.order_no for row in query]


def get_order(order_no: str) -> Order | None:
    return Order.get_or_none(Order.order_no == order_no)


def locked_order(order_no: str) -> Order | None:
    """Inside a write transaction: the order row, locked on PostgreSQL (SQLite has one writer anyway)."""
    query = Order.select().where(Order.order_no == order_no)
    return query.first() if is_sqlite() else query.for_update().first()


def settled_status(order: Order, refunds_in_flight: bool) -> str:
    """The status a paid order falls back to once no refund is in flight."""
    if refunds_in_flight:
        return REFUNDING
    if order.refunded_fen >= order.payable_fen:
        return REFUNDED
    if order.refunded_fen > 0:
        return PARTIALLY_REFUNDED
    if order.cancel_reason == GROUP_FAILED_REASON:  # its group never filled: the money is owed back, not kept
        return GROUP_FAILED
    if order.completed_at is not None:
        return COMPLETED
    if order.shipped_at is not None:
        return SHIPPED
    return PAID
