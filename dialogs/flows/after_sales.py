"""售后: "退货" / "退款" / "换货" / "投诉" → which order (of those eligible) → the reason → photos (image messages,
through `Flow.on_image`) → a ticket (store.after_sales.tickets.open_ticket) with its case number and the SLA promise.
"售后" or the menu asks which kind first. Operators decide in the admin API; the buyer hears each step from the
outbox."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from dialogs.flows import END, Flow, Step, Turn
from store.after_sales.tickets import (
    DISPUTE,
    EXCHANGE,
    KIND_LABELS,
    MAX_PHOTOS,
    REFUND,
    RETURN,
    AfterSalesError,
    AfterSalesRules,
    Ticket,
    describe_ticket,
    eligible_orders,
    open_ticket,
    tickets_of,
)
from store.core.money import yuan

KIND, ORDER, REASON, PHOTOS = "KIND", "ORDER", "REASON", "PHOTOS"
KIND_WORDS = ((EXCHANGE, ("换货", "换一件", "换个")), (RETURN, ("退货",)), (REFUND, ("退款", "退钱")),
              (DISPUTE, ("投诉", "纠纷", "举报")))  # fmt: skip
KIND_MENU = (RETURN, REFUND, EXCHANGE, DISPUTE)
DONE = {"完成", "好了", "好", "提交", "发完了", "没了", "就这些", "跳过", "不用", "没有", "无", "不需要"}
_INDEX = re.compile(r"^第?(\d{1,2})(?:个|单|项)?$")


@dataclass(frozen=True)
class AfterSalesDeps:
    rules: AfterSalesRules
    now: Callable[[], datetime]
    on_opened: Callable[[Ticket], None] = lambda ticket: None  # metrics


def kind_in(norm: str) -> str | None:
    for kind, words in KIND_WORDS:
        if any(word in norm for word in words):
            return kind
    return None


def build(deps: AfterSalesDeps) -> Flow:
    def entry(turn: Turn) -> Step:
        recent = [t for t in tickets_of(turn.openid) if t.status in ("open", "refunding", "reshipping")]
        prefix = ("您的售后单：\n" + "\n".join(describe_ticket(t) for t in recent) + "\n\n") if recent else ""
        kind = kind_in(turn.norm)
        if kind is None:
            return Step(prefix + _ask_kind(turn.slots), KIND)
        return _to_orders(turn, kind, prefix)

    def choose_kind(turn: Turn) -> Step:
        found = _INDEX.match(turn.norm)
        kind = KIND_MENU[int(found[1]) - 1] if found and 1 <= int(found[1]) <= len(KIND_MENU) else kind_in(turn.norm)
        return Step.not_understood() if kind is None else _to_orders(turn, kind)

    def _to_orders(turn: Turn, kind: str, prefix: str = "") -> Step:
        turn.slots["kind"] = kind
        orders = eligible_orders(turn.openid, kind, deps.now(), deps.rules)
        label = KIND_LABELS[kind]
        if not orders and kind == RETURN and eligible_orders(turn.openid, REFUND, deps.now(), deps.rules):
            return _to_orders(turn, REFUND, prefix + "订单还没发货，不用退货，直接退款就好。\n")
        if not orders:
            need = "已发货的" if kind in (RETURN, EXCHANGE) else ""
            days = deps.rules.eligible_days
            return Step(f"{prefix}您目前没有可以申请售后（{label}）的订单（{days}天内{need}订单可以申请）。"
                        "如有其他问题，回复“人工”联系客服。", END)  # fmt: skip
        turn.slots["choices"] = [o.order_no for o in orders]
        if len(orders) == 1:
            order = orders[0]
            turn.slots["order_no"] = order.order_no
            what = f"{order.title} {yuan(order.payable_fen)}（订单尾号{order.order_no[-6:]}）"
            return Step(f"{prefix}申请{label}：{what}\n{_ask_reason(turn.slots)}", REASON)
        listed = "\n".join(
            f"{i}. {o.title} {yuan(o.payable_fen)} {o.status_label}（{o.created_at:%m月%d日}，尾号{o.order_no[-6:]}）"
            for i, o in enumerate(orders, start=1)
        )
        return Step(f"{prefix}申请{label}，请选择订单：\n{listed}\n回复序号。", ORDER)

    def choose_order(turn: Turn) -> Step:
        choices: list[str] = turn.slots.get("choices", [])
        found = _INDEX.match(turn.norm)
        if not found or not 1 <= int(found[1]) <= len(choices):
            return Step.not_understood()
        turn.slots["order_no"] = choices[int(found[1]) - 1]
        return Step(_ask_reason(turn.slots), REASON)

    def reason(turn: Turn) -> Step:
        text = " ".join(turn.text.split())
        if len(text) < 2 or turn.norm in DONE:
            return Step.not_understood()
        turn.slots["reason"] = text[:255]
        return Step(_ask_photos(turn.slots), PHOTOS)

    def photos(turn: Turn) -> Step:
        if turn.norm not in DONE:
            return Step.not_understood()
        try:
            ticket = open_ticket(
                turn.openid, turn.slots["order_no"], turn.slots["kind"], turn.slots["reason"],
                turn.slots.get("photos", []), deps.now(), deps.rules,
            )  # fmt: skip
        except AfterSalesError as exc:
            return Step(f"{exc}。回复“售后”重新申请，或回复“人工”联系客服。", END)
        deps.on_opened(ticket)
        count = len(ticket.photo_list())
        pictures = f"，附{count}张照片" if count else ""
        return Step(
            f"已提交{ticket.kind_label}申请{pictures}。\n售后单号：{ticket.case_no}\n"
            f"{deps.rules.promise(ticket.kind)}，处理进度会通知您。", END,
        )  # fmt: skip

    def on_image(state: str, turn: Turn, media_id: str, pic_url: str) -> Step:
        """Photos while giving the reason or after: kept (up to MAX_PHOTOS) for the ticket."""
        if state not in (REASON, PHOTOS):
            return Step.not_understood()
        taken = list(turn.slots.get("photos", []))
        if len(taken) >= MAX_PHOTOS:
            return Step(f"最多{MAX_PHOTOS}张照片，已经够啦。回复“完成”提交申请。", state)
        taken.append({"media_id": media_id, "url": pic_url})
        turn.slots["photos"] = taken
        if state == REASON:
            return Step(f"已收到第{len(taken)}张照片。请再用文字简单说明原因。", REASON)
        return Step(f"已收到第{len(taken)}张照片，可以继续发送，发完回复“完成”提交申请。", PHOTOS)

    return Flow(
        name="after_sales",
        title="售后申请",
        entry=entry,
        states={KIND: choose_kind, ORDER: choose_order, REASON: reason, PHOTOS: photos},
        prompts={
            KIND: _ask_kind,
            ORDER: lambda slots: f"回复序号（1-{len(slots.get('choices', []))}）选择订单。",
            REASON: _ask_reason,
            PHOTOS: _ask_photos,
        },
        on_image=on_image,
    )


def _ask_kind(slots: dict) -> str:
    options = "\n".join(f"{i}. {KIND_LABELS[k]}" for i, k in enumerate(KIND_MENU, start=1))
    return f"请问需要哪种售后？\n{options}\n回复序号。"


def _ask_reason(slots: dict) -> str:
    return "请简单说明原因（例如：尺码不合适、商品有破损）。"


def _ask_photos(slots: dict) -> str:
    count = len(slots.get("photos", []))
    got = f"已收到{count}张照片。" if count else ""
    return f"{got}请发送商品照片（最多{MAX_PHOTOS}张），发完回复“完成”；不需要照片请回复“跳过”。"
