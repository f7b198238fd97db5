"""After-sales over HTTP: a return asked for in chat with its reason and a photo (an image message) becomes a
ticket; the operator approves it in the admin API and the refund goes through the checkout's refund path to the
sandbox WeChat Pay; the buyer hears every step. Refusals, SLA breaches escalated once per level (hours, and
working days for complaints), and the weekly complaint rate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from bot.process.config import Config
from scheduler.after_sales_jobs import sweep_after_sales
from store.after_sales.sla import add_working_days
from store.after_sales.tickets import AfterSalesRules, NotEligible, Ticket, open_ticket, refuse
from store.core.clock import SHANGHAI
from store.core.db import open_database
from store.orders.checkout import PAID, REFUNDED, CartLine, Order, create_order
from store.orders.payments import Refund
from tests.logistics_support import OPERATOR, ServiceWorld, fields, notices, paid_order, service_world
from tests.order_support import BUYER, HOME, RULES, START, make_shop


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[ServiceWorld]:
    async with service_world(migrated) as w:
        w.pay.sandbox.world.follow(BUYER)
        yield w


async def paid_at_wechat(world: ServiceWorld) -> Order:
    """An order paid through the sandbox WeChat Pay, so it can really be refunded."""
    order = create_order(BUYER, [CartLine(world.shop.dress, 1)], HOME, [], 0, world.clock.now(), rules=RULES)
    params = await world.pay.pay_params(order.order_no, BUYER)
    assert (await world.pay.confirm(params, BUYER))["err_msg"] == "get_brand_wcpay_request:ok"
    await world.pay.sandbox.pay.deliver_due()
    assert Order.get_by_id(order.id).status == PAID
    return Order.get_by_id(order.id)


def progress(openid: str = BUYER) -> list[str]:
    return [fields(n)["progress"] for n in notices(openid, "after_sales")]


def alerts() -> list[tuple[str, str]]:
    return [(fields(n)["subject"], fields(n)["ref"]) for n in notices(OPERATOR, "ops_alert")]


async def test_a_return_from_chat_with_a_photo_to_the_refund(world: ServiceWorld) -> None:
    order = await paid_at_wechat(world)
    await world.ship(order.order_no)
    follower = world.follower()
    early = await follower.send(BUYER, {"MsgType": "image", "PicUrl": "http://img.example/0.jpg", "MediaId": "M0"})
    assert "如需售后" in early.shown, "outside the flow a photo is only acknowledged"

    asked = await follower.send_text(BUYER, "我要退货")
    assert f"申请退货退款：法式碎花连衣裙 ¥159.00（订单尾号{order.order_no[-6:]}）" in asked.shown
    assert "请简单说明原因" in asked.shown
    reason = await follower.send_text(BUYER, "尺码偏小，穿不上")
    assert "请发送商品照片" in reason.shown
    photo = await follower.send(BUYER, {"MsgType": "image", "PicUrl": "http://img.example/1.jpg", "MediaId": "M1"})
    assert photo.shown == "已收到第1张照片，可以继续发送，发完回复“完成”提交申请。"
    done = await follower.send_text(BUYER, "完成")
    assert done.shown.startswith("已提交退货退款申请，附1张照片。") and "已受理，48小时内答复" in done.shown

    ticket = Ticket.get(Ticket.order_no == order.order_no)
    assert (ticket.kind, ticket.status, ticket.reason) == ("return", "open", "尺码偏小，穿不上")
    assert ticket.photo_list() == [{"media_id": "M1", "url": "http://img.example/1.jpg"}]
    assert ticket.due_at == world.clock.now() + timedelta(hours=48) and ticket.case_no in done.shown
    assert alerts() == [("新退货退款申请", ticket.case_no)]
    again = await follower.send_text(BUYER, "退货")
    assert "您的售后单：" in again.shown and ticket.case_no in again.shown and "没有可以申请售后" in again.shown

    status, listed = await world.admin("GET", "/admin/api/after-sales?status=open")
    assert status == 200 and [t["case_no"] for t in listed["tickets"]] == [ticket.case_no]
    assert listed["tickets"][0]["photos"][0]["url"] == "http://img.example/1.jpg"
    world.clock.advance(hours=3)
    status, approved = await world.admin("POST", f"/admin/api/after-sales/{ticket.case_no}/approve",
                                         json={"note": "同意退货"})  # fmt: skip
    assert status == 200, approved
    assert (approved["status"], approved["amount_fen"], approved["refund_no"]) == ("refunded", 15900, ticket.case_no)
    assert [r.refund_fee for r in world.pay.sandbox.pay.order(order.order_no).refunds] == [15900]
    assert Order.get_by_id(order.id).status == REFUNDED
    status, twice = await world.admin("POST", f"/admin/api/after-sales/{ticket.case_no}/approve", json={})
    assert status == 200 and twice["status"] == "refunded"
    assert Refund.select().where(Refund.order_no == order.order_no).count() == 1, "approving twice refunds once"
    assert progress() == ["已受理，48小时内答复", "审核通过，退款¥159.00处理中", "退款¥159.00已原路退回"]

    world.open_window(BUYER)
    await world.deliver_notices()
    texts = [t for t in world.delivered_texts(BUYER) if t.startswith(f"售后单{ticket.case_no}进度：")]
    assert sorted(t.split("进度：")[1] for t in texts) == sorted(p + "。" for p in progress()), "sent concurrently"


async def test_an_exchange_refused_and_a_refund_wechat_refuses(world: ServiceWorld) -> None:
    order = paid_order(world.shop, BUYER)
    await world.ship(order.order_no)
    follower = world.follower()
    menu = await follower.send_text(BUYER, "售后")
    assert "请问需要哪种售后" in menu.shown
    await follower.send_text(BUYER, "3")
    await follower.send_text(BUYER, "颜色和图片不一样")
    await follower.send_text(BUYER, "跳过")
    ticket = Ticket.get(Ticket.order_no == order.order_no)
    assert (ticket.kind, ticket.photo_list()) == ("exchange", [])
    assert ticket.due_at == world.clock.now() + timedelta(hours=72)
    path = f"/admin/api/after-sales/{ticket.case_no}"
    assert (await world.admin("POST", f"{path}/refuse", json={}))[0] == 400
    assert (await world.admin("POST", f"{path}/approve", json={"amount_fen": 100}))[0] == 409, "no money for exchanges"
    status, refused = await world.admin("POST", f"{path}/refuse", json={"reason": "商品已拆封影响二次销售"})
    assert status == 200 and refused["status"] == "refused"
    assert (await world.admin("POST", f"{path}/approve", json={}))[0] == 409
    assert progress()[-1] == "未通过：商品已拆封影响二次销售"
    assert (await world.admin("GET", "/admin/api/after-sales/AS000"))[0] == 404

    second = paid_order(world.shop, BUYER)  # paid in the store only: WeChat Pay has never seen it
    listed = await follower.send_text(BUYER, "退款")
    assert "申请仅退款，请选择订单：" in listed.shown and "2. " in listed.shown, "a refused order may ask again"
    await follower.send_text(BUYER, "1")
    await follower.send_text(BUYER, "不想要了")
    await follower.send_text(BUYER, "完成")
    refund_ticket = Ticket.get(Ticket.kind == "refund")
    assert refund_ticket.order_no == second.order_no, "newest first"
    status, body = await world.admin("POST", f"/admin/api/after-sales/{refund_ticket.case_no}/approve", json={})
    assert status == 200 and body["status"] == "refund_failed", "WeChat Pay refused: operators must step in"
    assert Refund.get(Refund.refund_no == refund_ticket.case_no).status == "failed"
    assert (await sweep_after_sales(world.ctx()))["settled"] == 0
    assert alerts()[-1] == ("售后退款失败", refund_ticket.case_no)
    assert progress()[-1] == "退款遇到问题，客服正在处理"


async def test_sla_breaches_escalate_once_per_level(world: ServiceWorld) -> None:
    follower = world.follower()
    unshipped, other = paid_order(world.shop, BUYER), paid_order(world.shop, BUYER)
    await follower.send_text(BUYER, "我要退款")
    await follower.send_text(BUYER, "1")
    await follower.send_text(BUYER, "拍错了")
    await follower.send_text(BUYER, "完成")
    await follower.send_text(BUYER, "我要投诉")
    await follower.send_text(BUYER, "1")
    await follower.send_text(BUYER, "客服态度差")
    await follower.send_text(BUYER, "完成")
    refund = Ticket.get(Ticket.kind == "refund")
    complaint = Ticket.get(Ticket.kind == "dispute")
    assert {refund.order_no, complaint.order_no} == {unshipped.order_no, other.order_no}
    opened = world.clock.now()  # Tuesday 2026-11-24 10:00
    assert complaint.due_at == datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI), "3 working days"
    assert complaint.final_due_at == datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI), "5 working days, over a weekend"

    world.clock.set(opened + timedelta(hours=47, minutes=59))
    assert (await sweep_after_sales(world.ctx()))["escalated"] == 0
    world.clock.set(opened + timedelta(hours=48))
    assert (await sweep_after_sales(world.ctx()))["escalated"] == 1
    assert (await sweep_after_sales(world.ctx()))["escalated"] == 0
    world.clock.set(complaint.due_at)
    assert (await sweep_after_sales(world.ctx()))["escalated"] == 1
    world.clock.set(complaint.final_due_at)
    assert (await sweep_after_sales(world.ctx()))["escalated"] == 1
    assert (await sweep_after_sales(world.ctx()))["escalated"] == 0
    sla = [a for a in alerts() if not a[0].startswith("新")]
    assert sla == [("仅退款超时未处理", refund.case_no), ("投诉超时未处理", complaint.case_no),
                   ("投诉超5个工作日未结", complaint.case_no)]  # fmt: skip
    status, listed = await world.admin("GET", "/admin/api/after-sales?kind=dispute")
    assert listed["tickets"][0]["overdue"] is True and listed["tickets"][0]["escalation"] == 2

    status, stats = await world.admin("GET", "/admin/api/after-sales/stats?days=7")
    assert status == 200, stats
    assert (stats["orders_paid"], stats["complaints"], stats["complaint_rate"]) == (2, 1, 0.5)
    assert stats["tickets"] == {"return": 0, "refund": 1, "exchange": 0, "dispute": 1}
    assert (stats["sla_breaches"], stats["open"]) == (2, 2)
    assert (await world.admin("GET", "/admin/api/after-sales/stats?days=0"))[0] == 400
    assert (await world.admin("GET", "/admin/api/after-sales?status=nope"))[0] == 400


def test_working_days_skip_weekends_and_holidays() -> None:
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=SHANGHAI)
    assert add_working_days(friday, 3) == datetime(2026, 12, 2, 15, 0, tzinfo=SHANGHAI)
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)
    assert add_working_days(saturday, 3) == datetime(2026, 12, 3, 0, 0, tzinfo=SHANGHAI)
    national_day = {datetime(2026, 10, d).date() for d in range(1, 8)}
    before = datetime(2026, 9, 30, 9, 30, tzinfo=SHANGHAI)
    assert add_working_days(before, 1, national_day) == datetime(2026, 10, 8, 9, 30, tzinfo=SHANGHAI)
    assert add_working_days(friday, 0) == friday
    with pytest.raises(ValueError):
        add_working_days(friday.replace(tzinfo=None), 1)


def test_tickets_in_the_store_one_open_per_order_and_sendable_refusals(migrated: Config) -> None:
    open_database(migrated.database.url, migrated.var_dir)
    shop, rules = make_shop(), AfterSalesRules(operators=(OPERATOR,))
    order = paid_order(shop, BUYER)
    with pytest.raises(NotEligible):
        open_ticket(BUYER, order.order_no, "return", "不合适", [], START, rules)  # not shipped: nothing to return
    with pytest.raises(NotEligible):
        open_ticket("o_someone_else", order.order_no, "refund", "不合适", [], START, rules)
    ticket = open_ticket(BUYER, order.order_no, "refund", "  拍错了\n规格  ", [], START, rules)
    assert ticket.reason == "拍错了 规格"
    with pytest.raises(NotEligible, match="已有处理中"):
        open_ticket(BUYER, order.order_no, "dispute", "还没处理", [], START, rules)
    refused = refuse(ticket.case_no, "限时优惠商品不支持退款", START, rules)
    assert refused.status == "refused" and refused.note == "限时优惠商品不支持退款"
    assert progress()[-1] == "未通过审核，回复售后查看", "marketing words never reach a template message"
    again = open_ticket(BUYER, order.order_no, "dispute", "为什么拒绝", [], START + timedelta(hours=1), rules)
    assert again.kind == "dispute" and again.final_due_at is not None


async def test_a_return_asked_for_an_unshipped_order_is_offered_as_a_refund(world: ServiceWorld) -> None:
    order = paid_order(world.shop, BUYER)
    follower = world.follower()
    offered = await follower.send_text(BUYER, "我要退货")
    assert offered.shown.startswith("订单还没发货，不用退货，直接退款就好。"), offered.shown
    assert "申请仅退款：" in offered.shown and order.order_no[-6:] in offered.shown
    await follower.send_text(BUYER, "不想要了")
    done = await follower.send_text(BUYER, "完成")
    assert "仅退款" in done.shown, done.shown
