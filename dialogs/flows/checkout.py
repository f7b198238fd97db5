"""结算: quantity → cart (购物车, 删掉第2个, 继续逛) → address (remembered; skipped for virtual goods) → coupons
(the best combination the stacking rules allow is offered first; "1 3" picks) → a confirmation showing every line
and adjustment, and the points the buyer may use ("用积分", "用500积分", "不用积分" re-price it there) → "确认"
creates the order and replies with the pay link.

The cart lives behind `dialogs.cart.Carts` (in Redis: `bot.chat.carts`) so it survives the conversation; the
order, stock reservation and pricing are the store's (`store.orders.checkout`): this module only asks and explains.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from dialogs.cart import MAX_QUANTITY, Carts
from dialogs.flows import END, Flow, Step, Turn
from dialogs.replies import Answer, yuan
from dialogs.understanding.numerals import parse_chinese_number
from store.catalog.products import Sku
from store.orders.addresses import InvalidAddress, as_input, last_address, validate_address
from store.orders.checkout import (
    CartLine,
    CheckoutError,
    NotEnoughPoints,
    OutOfStock,
    PriceChanged,
    Quote,
    ShopRules,
    create_order,
    new_order_no,
    pay_link,
    quote,
)
from store.promotions.coupons import available_coupons

QUANTITY, CART, ADDRESS_CONFIRM, ADDRESS, COUPON, CONFIRM = (
    "QUANTITY", "CART", "ADDRESS_CONFIRM", "ADDRESS", "COUPON", "CONFIRM",
)  # fmt: skip
YES = {"是", "是的", "对", "好", "好的", "确认", "确定", "可以", "嗯", "ok", "yes", "y", "寄这里", "就这个"}
NONE = {"不用", "不使用", "不用了", "不要", "跳过", "没有", "无"}
CHECKOUT = {"结算", "去结算", "下单", "买单", "确认下单", "提交订单"}
MORE = {"继续逛", "继续购物", "再看看", "逛逛"}
_UNITS = "件个份套只盒瓶双台条支包"
_QTY = re.compile(rf"^我?[买要来]?([\d零〇一二两三四五六七八九十百千]{{1,6}}|一打|半打)[{_UNITS}]?$")
UNUSUAL_QUANTITY = 20
"""Above it a quantity is asked back before it goes in the cart: "一百" is more often a slip than an order."""
_REMOVE = re.compile(r"^(?:删掉|删除|去掉|不要|移除)第?(\d{1,2})(?:个|件|项)?$")
_PHONE = re.compile(r"(?:\+?86)?1[3-9]\d{9}")
_PICKS = re.compile(r"^\d{1,2}(?:[,，、和+/\s]+\d{1,2})*$")
_USE_POINTS = re.compile(r"^(?:用|使用)(?:全部)?(?:(\d{1,7})个?)?积分(?:抵扣|抵现)?$")
NO_POINTS = {"不用积分", "不使用积分", "积分不用", "不抵扣", "不用积分抵扣"}
BEST = {"好", "好的", "用推荐", "推荐", "就这样", "可以", "ok", "是", "嗯"}
_REGION = re.compile(r"^(.{2,}?(?:省|自治区|特别行政区|市))?(.{2,}?(?:市|州|盟|地区))?(.{1,}?(?:区|县|市|旗))")


@dataclass(frozen=True)
class CheckoutDeps:
    carts: Carts
    rules: ShopRules
    public_url: str
    now: Callable[[], datetime]
    after_order: Callable[[str, datetime], None]  # (order_no, expires_at): schedule the unpaid timeout


def parse_quantity(norm: str) -> int | None:
    """The count a shopper wrote ("3", "3件", "两件", "一打", "一百", "要十个"), or None when the text is not a count.
    Not capped here: the flow says what is too many."""
    found = _QTY.match(norm)
    if not found:
        return None
    value = 6 if found[1] == "半打" else parse_chinese_number(found[1])
    return value if value is not None and value >= 1 else None


def parse_address(text: str):  # -> AddressInput
    """"张三 13800000000 广东省深圳市南山区科技园1号" (any order of name and phone; commas or spaces)."""
    cleaned = re.sub(r"[，,;；\n]+", " ", text).strip()
    phone_match = _PHONE.search(cleaned.replace(" ", ""))
    if phone_match is None:
        raise InvalidAddress({"phone": "没找到手机号，请写上11位手机号"})
    phone = phone_match.group(0)
    without = cleaned.replace(phone, " ")
    parts = without.split()
    name = parts[0] if parts else ""
    rest = "".join(parts[1:])
    if len(name) > 8 and not rest:  # no space between name and address: the name is the first 2-4 characters
        name, rest = name[:3], name[3:]
    region_match = _REGION.match(rest)
    region = "".join(g for g in region_match.groups() if g) if region_match else ""
    detail = rest[len(region) :] if region_match else rest
    return validate_address(name, phone, region, detail)


def parse_points(norm: str) -> int | None:
    """"用积分" → -1 (all that may be used), "用500积分" / "使用500个积分" → 500, "不用积分" → 0, else None."""
    if norm in NO_POINTS:
        return 0
    if norm in {"积分抵扣", "抵扣积分", "积分抵现"}:
        return -1
    found = _USE_POINTS.match(norm)
    if not found:
        return None
    return int(found[1]) if found[1] else -1


def parse_picks(text: str, count: int) -> list[int] | None:
    """"1" / "1 3" / "1,3" / "1和3" → the 0-based choices among `count` listed; None when not that or out of range."""
    if not _PICKS.match(text):
        return None
    picks = list(dict.fromkeys(int(n) - 1 for n in re.findall(r"\d{1,2}", text)))
    return picks if all(0 <= i < count for i in picks) else None


def build(deps: CheckoutDeps) -> Flow:
    def entry(turn: Turn) -> Step:
        lines = deps.carts.lines(turn.openid)
        if not lines:
            return Step("购物车是空的。回复“逛商城”挑选商品吧～", END)
        return Step(_cart_text(lines), CART)

    def quantity(turn: Turn) -> Step:
        asked = turn.slots.pop("asked_quantity", None)
        count = asked if asked is not None and turn.norm in YES else parse_quantity(turn.norm)
        if count is None:
            return Step.not_understood()
        if count > MAX_QUANTITY:
            return Step(f"一次最多买{MAX_QUANTITY}件哦，请回复1-{MAX_QUANTITY}之间的数量。", QUANTITY)
        sku = Sku.get_or_none(Sku.id == turn.slots["sku"])
        if sku is None or not sku.on_sale:
            return Step("这个规格已下架，回复“逛商城”看看别的吧。", END)
        if sku.stock < count:
            return Step(f"库存只剩{sku.stock}件，请少买一些：回复数量。", QUANTITY)
        if count > UNUSUAL_QUANTITY and asked != count:
            turn.slots["asked_quantity"] = count
            return Step(f"您要买{count}件吗？回复“是”确认，或回复新的数量。", QUANTITY)
        lines = deps.carts.add(turn.openid, sku.id, count)
        return Step("已加入购物车。\n" + _cart_text(lines), CART)

    def cart(turn: Turn) -> Step:
        lines = deps.carts.lines(turn.openid)
        removed = _REMOVE.match(turn.norm)
        if removed:
            index = int(removed[1]) - 1
            if not 0 <= index < len(lines):
                return Step(f"购物车里没有第{index + 1}件。\n{_cart_text(lines)}", CART)
            del lines[index]
            deps.carts.save(turn.openid, lines)
            if not lines:
                return Step("已删除，购物车空了。回复“逛商城”继续挑选。", END)
            return Step("已删除。\n" + _cart_text(lines), CART)
        if turn.norm in {"清空", "清空购物车"}:
            deps.carts.clear(turn.openid)
            return Step("购物车已清空。", END)
        if turn.norm in MORE:
            return Step("好的，购物车给您留着。回复“逛商城”或商品名继续挑选，回复“购物车”回来结算。", END)
        if turn.norm in CHECKOUT or turn.norm in YES:
            return _to_address(turn, lines)
        return Step.not_understood()

    def address_confirm(turn: Turn) -> Step:
        if turn.norm in YES:
            saved = last_address(turn.openid)
            if saved is None:
                return Step(_ask_address(), ADDRESS)
            turn.slots["address"] = as_input(saved).__dict__
            return _to_coupon(turn)
        if turn.norm in {"否", "不是", "换一个", "新地址", "不"}:
            return Step(_ask_address(), ADDRESS)
        return address(turn)

    def address(turn: Turn) -> Step:
        try:
            parsed = parse_address(turn.text)
        except InvalidAddress as exc:
            problems = "；".join(exc.problems.values())
            return Step(f"地址不完整：{problems}。\n{_ask_address()}", ADDRESS)
        turn.slots["address"] = parsed.__dict__
        return _to_coupon(turn)

    def coupon(turn: Turn) -> Step:
        options: list[str] = turn.slots.get("coupon_options", [])
        if turn.norm in NONE:
            turn.slots["coupons"] = []
            return _confirm(turn)
        best: list[str] = turn.slots.get("coupon_best", [])
        if best and turn.norm in BEST:
            turn.slots["coupons"] = best
            return _confirm(turn)
        picks = parse_picks(unicodedata.normalize("NFKC", turn.text).strip(), len(options))
        if picks is None:
            return Step.not_understood()
        turn.slots["coupons"] = [options[i] for i in picks]
        return _confirm(turn)

    def confirm(turn: Turn) -> Step:
        wanted = parse_points(turn.norm)
        if wanted is not None:
            return _confirm(turn, points=wanted)
        if turn.norm not in YES and turn.norm not in CHECKOUT:
            return Step.not_understood()
        lines = deps.carts.lines(turn.openid)
        address_fields = turn.slots.get("address")
        now = deps.now()
        try:
            order = create_order(
                turn.openid,
                [CartLine(sku, qty) for sku, qty in lines],
                validate_address(**address_fields) if address_fields else None,
                turn.slots.get("coupons", []),
                turn.slots.get("points", 0),
                now,
                rules=deps.rules,
                expected_payable_fen=turn.slots.get("payable"),
                order_no=turn.slots.get("order_no"),
            )
        except PriceChanged:
            return _confirm(turn, prefix="价格有变动，请重新确认：\n")
        except NotEnoughPoints as exc:
            return _confirm(turn, prefix=f"积分有变动，当前只有{exc.balance}积分，请重新确认：\n", points=0)
        except OutOfStock as exc:
            return Step(f"{exc}\n{_cart_text(lines)}", CART)
        except CheckoutError as exc:
            return Step(f"{exc}\n回复“购物车”重新结算。", END)
        deps.carts.clear(turn.openid)
        deps.after_order(order.order_no, order.expires_at)
        minutes = int(deps.rules.unpaid_timeout.total_seconds() // 60)
        card = [(
            f"订单待支付 ¥{yuan(order.payable_fen)}",
            f"订单号 {order.order_no}\n请在{minutes}分钟内完成支付，超时自动取消。",
            "",
            pay_link(deps.public_url, order.order_no),
        )]  # fmt: skip
        return Step(Answer(card), END)

    def _to_address(turn: Turn, lines: list[tuple[int, int]]) -> Step:
        result = quote(turn.openid, [CartLine(s, q) for s, q in lines], [], 0, deps.now(), rules=deps.rules)
        if not result.needs_address:
            turn.slots["address"] = None
            return _to_coupon(turn)
        saved = last_address(turn.openid)
        if saved is not None:
            line = f"{saved.name} {saved.phone[:3]}****{saved.phone[-4:]} {saved.region}{saved.detail}"
            return Step(f"寄到上次的地址吗？\n{line}\n回复“是”，或直接发送新地址。", ADDRESS_CONFIRM)
        return Step(_ask_address(), ADDRESS)

    def _to_coupon(turn: Turn) -> Step:
        coupons = available_coupons(turn.openid, deps.now())
        if not coupons:
            turn.slots["coupons"] = []
            return _confirm(turn)
        codes = [c.code for c in coupons[:5]]
        turn.slots["coupon_options"] = codes
        listed = "\n".join(
            f"{i}. {c.template.describe()}（{c.expires_at:%m月%d日}到期）" for i, c in enumerate(coupons[:5], start=1)
        )
        best = _best_coupons(turn, codes) if len(codes) > 1 else None
        if best is None:
            turn.slots["coupon_best"] = []
            return Step(f"您有可用优惠券：\n{listed}\n回复数字使用，或回复“不用”。", COUPON)
        used, saved = best
        turn.slots["coupon_best"] = used
        names = "＋".join(str(codes.index(code) + 1) for code in used)
        advice = f"推荐组合：第{names}张一起用，共优惠" if len(used) > 1 else f"推荐：第{names}张，优惠"
        return Step(
            f"您有可用优惠券：\n{listed}\n{advice}¥{yuan(saved)}。\n"
            "回复“好”使用推荐，回复数字自选（可多张，如“1 2”），或回复“不用”。",
            COUPON,
        )

    def _best_coupons(turn: Turn, codes: list[str]) -> tuple[list[str], int] | None:
        """The coupons pricing picks when offered all of them (the stacking rules decide), and what they save
        beyond the promotions that apply anyway; None when no coupon helps."""
        lines = [CartLine(s, q) for s, q in deps.carts.lines(turn.openid)]
        with_all = quote(turn.openid, lines, codes, 0, deps.now(), rules=deps.rules).priced
        used = list(with_all.coupon_codes_used)
        if not used:
            return None
        without = quote(turn.openid, lines, [], 0, deps.now(), rules=deps.rules).priced
        return used, without.payable_fen - with_all.payable_fen

    def _confirm(turn: Turn, prefix: str = "", points: int | None = None) -> Step:
        """The confirmation; `points` re-prices it with that many (-1: as many as may be used, 0: none)."""
        lines = [CartLine(s, q) for s, q in deps.carts.lines(turn.openid)]
        coupons = turn.slots.get("coupons", [])
        requested = turn.slots.get("points", 0) if points is None else points
        most = quote(turn.openid, lines, coupons, _ALL_POINTS, deps.now(), rules=deps.rules)
        usable = most.priced.points_used
        if requested and not usable:
            prefix += f"本单暂不能使用积分（您有{most.points_balance}积分）。\n"
            requested = 0
        elif requested > usable:
            have = f"您只有{most.points_balance}积分，" if requested > most.points_balance else ""
            prefix += f"{have}本单最多可用{usable}积分，已为您使用{usable}积分。\n"
            requested = usable
        elif requested < 0:
            requested = usable
        result = most if requested == usable else quote(
            turn.openid, lines, coupons, requested, deps.now(), rules=deps.rules
        )
        turn.slots["points"] = result.priced.points_used
        turn.slots["payable"] = result.priced.payable_fen
        # Drawn before "确认": a confirmation handled again (its process died before answering) finds its order.
        turn.slots["order_no"] = new_order_no(deps.now())
        items = [f"· {p.line.title} ×{p.line.quantity} ¥{yuan(p.subtotal_fen)}" for p in result.priced.lines]
        address = turn.slots.get("address")
        ship = "虚拟商品，无需收货地址"
        if address:
            ship = f"收货：{address['name']} {address['region']}{address['detail']}"
        offer = _points_offer(result.priced.points_used, usable, most)
        text = "\n".join([*items, *result.priced.explanation(), ship, *offer, "回复“确认”下单，或“取消”。"])
        return Step(prefix + text, CONFIRM)

    def _points_offer(used: int, usable: int, most: Quote) -> list[str]:
        """What the confirmation says about points: how many may be used, what they save, the cap, how to ask."""
        if used:
            return ["回复“不用积分”取消积分抵扣。"]
        if usable <= 0:
            return []
        share = f"{(deps.rules.pricing.points_max_share * 100).normalize():f}%"
        capped = "" if usable >= most.points_balance else f"（积分最多抵扣订单金额的{share}）"
        return [
            f"您有{most.points_balance}积分，本单最多可用{usable}积分抵¥{yuan(most.priced.points_fen)}{capped}。"
            "回复“用积分”抵扣，或“用100积分”指定数量。"
        ]

    return Flow(
        name="checkout",
        title="结算",
        entry=entry,
        states={
            QUANTITY: quantity,
            CART: cart,
            ADDRESS_CONFIRM: address_confirm,
            ADDRESS: address,
            COUPON: coupon,
            CONFIRM: confirm,
        },
        prompts={
            QUANTITY: lambda slots: f"请回复购买数量（1-{MAX_QUANTITY}）。",
            CART: lambda slots: "回复“结算”下单，“继续逛”选购更多，或“删掉第1个”。",
            ADDRESS_CONFIRM: lambda slots: "回复“是”寄到上次的地址，或发送新地址。",
            ADDRESS: lambda slots: _ask_address(),
            COUPON: lambda slots: "回复数字使用优惠券，或回复“不用”。",
            CONFIRM: lambda slots: "回复“确认”下单，“用积分”/“不用积分”，或“取消”。",
        },
    )


_ALL_POINTS = 10**9
"""Offered to the quote to learn the most points usable: the quote caps it by the balance and pricing's share."""


def ask_quantity(turn: Turn, sku_id: int) -> Step:
    """Browse's hand-over once a SKU is chosen."""
    turn.slots["sku"] = sku_id
    sku = Sku.get_by_id(sku_id)
    spec = " ".join(part.split(":", 1)[-1] for part in sku.spec.split(";") if part) or "默认规格"
    virtual = "（虚拟商品，无需物流）" if sku.virtual else ""
    return Step(
        f"已选：{spec}，¥{yuan(sku.price_fen)}，库存{sku.stock}件{virtual}。请回复购买数量。", QUANTITY, flow="checkout"
    )


def _cart_text(lines: list[tuple[int, int]]) -> str:
    skus = {s.id: s for s in Sku.select().where(Sku.id.in_([sku for sku, _ in lines]))}
    rows, total = [], 0
    for i, (sku_id, qty) in enumerate(lines, start=1):
        sku = skus.get(sku_id)
        if sku is None:
            rows.append(f"{i}. （已下架）×{qty}")
            continue
        spec = " ".join(part.split(":", 1)[-1] for part in sku.spec.split(";") if part)
        amount = sku.price_fen * qty
        total += amount
        rows.append(f"{i}. {sku.product.title} {spec} ×{qty} ¥{yuan(amount)}")
    return (
        "购物车：\n" + "\n".join(rows) + f"\n合计 ¥{yuan(total)}\n回复“结算”下单，“继续逛”选购更多，或“删掉第1个”。"
    )


def _ask_address() -> str:
    return "请发送收货信息：姓名 手机号 地址，例如：张三 13812345678 广东省深圳市南山区科技园路1号"
