"""查快递 / 物流到哪了: the latest trace of the buyer's parcel. One parcel on its way (or none on its way but some
delivered) → its trace at once; several on their way → which order?; none shipped → a clear answer, naming paid
orders still waiting to ship."""

from __future__ import annotations

import re

from dialogs.flows import END, Flow, Step, Turn
from store.logistics.shipments import Shipment, parcels_of
from store.logistics.tracking import state_label, trace_lines
from store.orders.checkout import PAID, Order

CHOOSE = "CHOOSE"
SHOWN_LINES = 3
MAX_CHOICES = 5
_INDEX = re.compile(r"^第?(\d{1,2})(?:个|单|号)?$")


def build() -> Flow:
    def entry(turn: Turn) -> Step:
        parcels = parcels_of(turn.openid, limit=20)
        if not parcels:
            return Step(_nothing_shipped(turn.openid), END)
        travelling = [p for p in parcels if not p.final][:MAX_CHOICES]
        if len(travelling) > 1:
            turn.slots["choices"] = [p.order_no for p in travelling]
            return Step(_choices(travelling), CHOOSE)
        return Step(parcel_text(travelling[0] if travelling else parcels[0]), END)

    def choose(turn: Turn) -> Step:
        choices: list[str] = turn.slots.get("choices", [])
        found = _INDEX.match(turn.norm)
        order_no = None
        if found and 1 <= int(found[1]) <= len(choices):
            order_no = choices[int(found[1]) - 1]
        elif len(turn.norm) >= 4:  # the tail of an order number, as listed
            matches = [c for c in choices if c.endswith(turn.norm)]
            order_no = matches[0] if len(matches) == 1 else None
        if order_no is None:
            return Step.not_understood()
        shipment = Shipment.get_or_none(Shipment.order_no == order_no, Shipment.openid == turn.openid)
        return Step(parcel_text(shipment) if shipment else "没有找到这个包裹。", END)

    return Flow(
        name="tracking",
        title="查物流",
        entry=entry,
        states={CHOOSE: choose},
        prompts={CHOOSE: lambda slots: f"回复序号（1-{len(slots.get('choices', []))}）查看对应订单的物流。"},
    )


def _titles(parcels: list[Shipment]) -> dict[str, str]:
    """What each parcel carries, by its reference: the order's title (a reshipment: 换货 and the exchanged order's)."""
    sources = {p.order_no: p.source_order_no or p.order_no for p in parcels}
    query = Order.select(Order.order_no, Order.title).where(Order.order_no.in_(list(sources.values())))
    titles = dict(query.tuples())
    return {ref: ("换货：" if ref != source else "") + titles.get(source, "") for ref, source in sources.items()}


def _named(parcel: Shipment) -> str:
    """订单尾号123456, or 售后单尾号123456 for a reshipment."""
    return f"{'售后单' if parcel.source_order_no else '订单'}尾号{parcel.order_no[-6:]}"


def _choices(parcels: list[Shipment]) -> str:
    titles = _titles(parcels)
    lines = [
        f"{i}. {titles.get(p.order_no, '')}（{_named(p)}）{state_label(p.state)}"
        for i, p in enumerate(parcels, start=1)
    ]
    return "您有多个包裹在路上：\n" + "\n".join(lines) + "\n回复序号查看物流详情。"


def parcel_text(parcel: Shipment) -> str:
    """The chat's answer for one parcel: what, which carrier and number, where it is, the latest lines."""
    title = _titles([parcel]).get(parcel.order_no, "")
    head = [f"{_named(parcel)}（{title}）", f"{parcel.carrier_name} {parcel.tracking_no}"]
    lines = trace_lines(parcel)
    if not lines:
        head.append(f"已于{parcel.shipped_at:%m月%d日 %H:%M}发货，等待快递公司揽收，有更新会第一时间通知您。")
        return "\n".join(head)
    head.append(f"当前状态：{state_label(parcel.state)}")
    for line in lines[:SHOWN_LINES]:
        head.append(f"{line['time'][5:16]} {line['context']}")
    if len(lines) > SHOWN_LINES:
        head.append(f"……共{len(lines)}条物流记录")
    return "\n".join(head)


def _nothing_shipped(openid: str) -> str:
    waiting = (
        Order.select(Order.order_no, Order.title)
        .where(Order.openid == openid, Order.status == PAID, Order.needs_shipping == True)  # noqa: E712
        .order_by(Order.paid_at.desc())
        .limit(3)
    )
    names = [f"{o.title}（订单尾号{o.order_no[-6:]}）" for o in waiting]
    if names:
        return "您的订单正在备货，还没有发货：\n" + "\n".join(names) + "\n发货后会第一时间通知您。"
    return "您目前没有运输中的包裹。回复“我的订单”查看订单。"
