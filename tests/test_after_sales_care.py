"""After-sales that compensates and is measured, over HTTP: an approved return's 运费险补贴 (points, or riding on the
goods refund when the order has room), a complaint's goodwill refund from the sandbox WeChat Pay and an operator's
transfer record, the free reshipment of an approved exchange tracked like any parcel, the 1–5 rating asked when a
ticket closes and answered in chat, and the service KPI per operator in the admin API (JSON, CSV) and the CLI."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.process.config import Config
from scheduler.after_sales_jobs import sweep_after_sales
from scheduler.logistics_jobs import subscribe_parcels
from store.after_sales.compensation import AlreadyCompensated, Compensation
from store.after_sales.ratings import rate
from store.after_sales.tickets import AfterSalesRules, Ticket, approve, compensate, open_ticket, refuse
from store.core.db import close_database, open_database
from store.logistics.shipments import ship_order
from store.members.accounts import points_balance
from store.orders.checkout import PAID, CartLine, Order, create_order
from store.orders.payments import Refund
from store.outbox.notices import Notice
from store.promotions.coupons import Coupon, create_template
from tests.logistics_support import ServiceWorld, fields, notices, paid_order, service_world
from tests.order_support import BUYER, HOME, OTHER, RULES, START, make_shop, race
from tests.support import wxshop


def not_a_rating(shown: str) -> bool:
    """The engine went on as without the rating intent (clarify, small talk, default reply), not a rating's thanks."""
    return "评价" not in shown and bool(shown)


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[ServiceWorld]:
    async with service_world(migrated) as w:
        w.pay.sandbox.world.follow(BUYER)
        yield w


def with_after_sales(config: Config, **changes: object) -> Config:
    return dataclasses.replace(config, after_sales=dataclasses.replace(config.after_sales, **changes))


async def paid_at_wechat(world: ServiceWorld, openid: str = BUYER, quantity: int = 1) -> Order:
    """A dress (or `quantity` of them) paid through the sandbox WeChat Pay, so it can really be refunded."""
    order = create_order(openid, [CartLine(world.shop.dress, quantity)], HOME, [], 0, world.clock.now(), rules=RULES)
    params = await world.pay.pay_params(order.order_no, openid)
    assert (await world.pay.confirm(params, openid))["err_msg"] == "get_brand_wcpay_request:ok"
    await world.pay.sandbox.pay.deliver_due()
    assert Order.get_by_id(order.id).status == PAID
    return Order.get_by_id(order.id)


async def ask(world: ServiceWorld, kind_words: str, reason: str, openid: str = BUYER) -> Ticket:
    """The buyer asks in chat (for the newest eligible order), gives a reason, no photo."""
    follower = world.follower()
    asked = await follower.send_text(openid, kind_words)
    if "请选择订单" in asked.shown:
        await follower.send_text(openid, "1")
    await follower.send_text(openid, reason)
    done = await follower.send_text(openid, "跳过")
    assert done.shown.startswith("已提交"), done.shown
    return Ticket.select().where(Ticket.openid == openid).order_by(Ticket.id.desc()).get()


def kinds(openid: str = BUYER) -> list[str]:
    return [n.kind for n in notices(openid) if n.kind in ("after_sales", "compensation", "reshipped", "rating_request")]


async def test_a_return_gets_its_shipping_subsidy_and_a_rating_in_chat(world: ServiceWorld) -> None:
    order = await paid_at_wechat(world)
    await world.ship(order.order_no)
    ticket = await ask(world, "我要退货", "尺码偏小")
    world.clock.advance(hours=5)
    path = f"/admin/api/after-sales/{ticket.case_no}"
    status, body = await world.admin("POST", f"{path}/approve", json={"operator": "客服小王"})
    assert status == 200 and (body["status"], body["amount_fen"], body["handled_by"]) == ("refunded", 15900, "客服小王")
    assert [r.refund_fee for r in world.pay.sandbox.pay.order(order.order_no).refunds] == [15900], "the goods only"
    paid = Compensation.get(Compensation.case_no == ticket.case_no)
    assert (paid.label, paid.method, paid.amount_fen, paid.points, paid.status) == (
        "运费险补贴", "points", 1000, 1000, "granted")  # fmt: skip
    assert points_balance(BUYER) == 1000, "the subsidy's points; the order's own were clawed back with the refund"
    assert kinds() == ["after_sales", "after_sales", "compensation", "after_sales", "rating_request"]
    assert fields(notices(BUYER, "compensation")[0])["compensation"] == "运费险补贴1000积分"
    asked = fields(notices(BUYER, "rating_request")[0])
    assert (asked["case_no"], asked["item"], asked["how"]) == (ticket.case_no, "退货退款", "回复数字1-5评分")
    status, detail = await world.admin("GET", path)
    assert detail["compensation"]["shown_to_buyer"] == "运费险补贴1000积分" and detail["reshipment"] is None
    assert (await world.admin("POST", f"{path}/compensate", json={"method": "transfer", "amount_fen": 500}))[0] == 409

    follower = world.follower()
    world.clock.advance(hours=2)
    rated = await follower.send_text(BUYER, "5分")
    assert rated.shown == "收到您的5分评价，感谢您的反馈！我们会继续努力。"
    again = await follower.send_text(BUYER, "4")
    assert not_a_rating(again.shown), "rated once: a second number is not a rating"
    assert again.shown == (await follower.send_text("o_fresh_0003", "4")).shown, "as if there were no rating intent"
    done = Ticket.get_by_id(ticket.id)
    assert (done.rating, done.rated_at) == (5, world.clock.now())

    world.open_window(BUYER)
    await world.deliver_notices()
    texts = world.delivered_texts(BUYER)
    assert f"售后单{ticket.case_no}的补偿已发放：运费险补贴1000积分。" in texts
    assert any(t.startswith(f"售后单{ticket.case_no}（退货退款）已办结，请为本次服务打分") for t in texts)


async def test_a_subsidy_paid_by_refund_rides_on_the_goods_refund_when_the_order_has_room(migrated: Config) -> None:
    config = with_after_sales(migrated, return_subsidy_method="refund")
    async with service_world(config) as world:
        world.pay.sandbox.world.follow(BUYER)
        two = await paid_at_wechat(world, quantity=2)  # 318.00 - 20 满减 = 298.00
        await world.ship(two.order_no)
        ticket = await ask(world, "退货", "一件有破损")
        status, body = await world.admin("POST", f"/admin/api/after-sales/{ticket.case_no}/approve",
                                         json={"amount_fen": 14900})  # fmt: skip
        assert status == 200 and (body["status"], body["amount_fen"]) == ("refunded", 15900), "goods + 10.00"
        assert [r.refund_fee for r in world.pay.sandbox.pay.order(two.order_no).refunds] == [15900]
        paid = Compensation.get(Compensation.case_no == ticket.case_no)
        assert (paid.method, paid.amount_fen, paid.refund_no, paid.status) == ("refund", 1000, ticket.case_no,
                                                                                 "refunded")  # fmt: skip
        assert (await sweep_after_sales(world.ctx()))["compensations"] == 0, "settled with the goods refund"

        full = await paid_at_wechat(world)  # a whole order returned: no room left, the subsidy comes as points
        await world.ship(full.order_no)
        second = await ask(world, "退货", "不喜欢")
        assert (await world.admin("POST", f"/admin/api/after-sales/{second.case_no}/approve", json={}))[0] == 200
        fallback = Compensation.get(Compensation.case_no == second.case_no)
        assert (fallback.method, fallback.points, fallback.refund_no) == ("points", 1000, None)
        assert [r.refund_fee for r in world.pay.sandbox.pay.order(full.order_no).refunds] == [15900]


async def test_a_complaint_gets_a_goodwill_refund_and_an_operator_records_a_transfer(migrated: Config) -> None:
    config = with_after_sales(migrated, dispute_goodwill_fen=2000)
    async with service_world(config) as world:
        world.pay.sandbox.world.follow(BUYER)
        order = await paid_at_wechat(world)
        complaint = await ask(world, "我要投诉", "客服态度很差")
        status, body = await world.admin("POST", f"/admin/api/after-sales/{complaint.case_no}/approve", json={})
        assert status == 200 and body["status"] == "approved" and body["amount_fen"] is None
        goodwill = Compensation.get(Compensation.case_no == complaint.case_no)
        assert (goodwill.label, goodwill.method, goodwill.amount_fen, goodwill.refund_no, goodwill.status) == (
            "纠纷赔付", "refund", 2000, f"{complaint.case_no}C", "refunded")  # fmt: skip
        assert [r.refund_fee for r in world.pay.sandbox.pay.order(order.order_no).refunds] == [2000]
        assert Refund.get(Refund.refund_no == f"{complaint.case_no}C").status == "succeeded"
        assert fields(notices(BUYER, "compensation")[0])["compensation"] == "纠纷赔付¥20.00原路退回"
        assert kinds()[-1] == "rating_request", "an approved complaint is closed"

        other = paid_order(world.shop, OTHER)
        rules = AfterSalesRules.from_settings(config.after_sales, config.shop)
        second = open_ticket(OTHER, other.order_no, "dispute", "发错货了", [], world.clock.now(), rules)
        path = f"/admin/api/after-sales/{second.case_no}/compensate"
        for bad, why in (({"method": "coupon"}, "compensation_coupon"), ({"method": "transfer", "amount_fen": 20001},
                         "compensation_max_fen"), ({"method": "cash"}, "method must be")):  # fmt: skip
            status, body = await world.admin("POST", path, json=bad)
            assert status == 409 and why in body["error"], body
        assert (await world.admin("POST", path, json={"method": "points", "amount_fen": "5"}))[0] == 400
        status, body = await world.admin("POST", path, json={"method": "transfer", "amount_fen": 5000,
                                                            "note": "商家转账到零钱", "operator": "主管"})  # fmt: skip
        assert status == 201 and (body["method"], body["amount_fen"], body["status"]) == ("transfer", 5000, "granted")
        assert (body["shown_to_buyer"], body["granted_by"]) == ("纠纷赔付¥50.00转账", "主管")
        assert (await world.admin("POST", path, json={"method": "transfer", "amount_fen": 100}))[0] == 409, "once"
        assert Ticket.get_by_id(second.id).status == "open", "compensating decides nothing"
        assert (await world.admin("POST", "/admin/api/after-sales/AS404/compensate", json={}))[0] == 404


async def test_an_approved_exchange_is_reshipped_free_and_tracked(world: ServiceWorld) -> None:
    order = paid_order(world.shop, BUYER)
    await world.ship(order.order_no)
    ticket = await ask(world, "换货", "想换L码")
    path = f"/admin/api/after-sales/{ticket.case_no}"
    assert (await world.admin("POST", f"{path}/ship", json={"carrier": "yuantong", "tracking_no": "YT2000000001"}))[
        0] == 409, "not approved yet"  # fmt: skip
    status, body = await world.admin("POST", f"{path}/approve", json={})
    assert status == 200 and (body["status"], body["closed_at"]) == ("reshipping", None)
    assert fields(notices(BUYER, "after_sales")[-1])["progress"] == "换货已通过，新商品将包邮寄出"
    status, waiting = await world.admin("GET", "/admin/api/after-sales?status=reshipping")
    assert [t["case_no"] for t in waiting["tickets"]] == [ticket.case_no]
    follower = world.follower()
    listed = await follower.send_text(BUYER, "售后")
    assert f"{ticket.case_no} 换货 换货待发出" in listed.shown, "the buyer sees it waiting"
    await follower.send_text(BUYER, "取消")

    world.clock.advance(hours=3)
    parcel = {"carrier": "shunfeng", "tracking_no": "SF2000000001"}
    status, shipped = await world.admin("POST", f"{path}/ship", json=parcel)
    assert status == 201 and (shipped["order_no"], shipped["source_order_no"]) == (ticket.case_no, order.order_no)
    assert (await world.admin("POST", f"{path}/ship", json=parcel))[0] == 200, "the same parcel again"
    other = {"carrier": "shunfeng", "tracking_no": "SF2000000002"}
    assert (await world.admin("POST", f"{path}/ship", json=other))[0] == 409
    assert (await world.admin("POST", f"{path}/ship", json={"carrier": "顺丰", "tracking_no": "x"}))[0] == 400
    done = Ticket.get_by_id(ticket.id)
    assert (done.status, done.closed_at, done.open_key) == ("reshipped", world.clock.now(), None)
    assert kinds()[-2:] == ["reshipped", "rating_request"]
    told = fields(notices(BUYER, "reshipped")[0])
    assert (told["carrier"], told["tracking_no"]) == ("顺丰速运", "SF2000000001")

    assert await subscribe_parcels(world.ctx()) == 1, "subscribed with the provider like any parcel"
    assert world.tracker.parcel("SF2000000001").subscription is not None
    world.clock.advance(hours=6)
    assert (await world.tracker.advance("SF2000000001")).acknowledged
    [update] = notices(BUYER, "tracking")[-1:]
    assert fields(update)["order_no"] == ticket.case_no and fields(update)["tracking_no"] == "SF2000000001"
    tracked = await follower.send_text(BUYER, "查快递")
    assert "您有多个包裹在路上" in tracked.shown
    assert f"1. 换货：法式碎花连衣裙（售后单尾号{ticket.case_no[-6:]}）" in tracked.shown, tracked.shown
    assert f"2. 法式碎花连衣裙（订单尾号{order.order_no[-6:]}）" in tracked.shown
    picked = await follower.send_text(BUYER, "1")
    assert picked.shown.startswith(f"售后单尾号{ticket.case_no[-6:]}（换货：法式碎花连衣裙）\n顺丰速运 SF2000000001")
    status, detail = await world.admin("GET", path)
    assert detail["reshipment"]["tracking_no"] == "SF2000000001" and detail["status_label"] == "换货已发出"


async def test_ratings_are_taken_once_only_when_no_flow_asks_and_within_their_days(world: ServiceWorld) -> None:
    first, second = paid_order(world.shop, BUYER), paid_order(world.shop, BUYER)
    rules = world.after_sales
    one = open_ticket(BUYER, first.order_no, "refund", "拍错了", [], world.clock.now(), rules)
    two = open_ticket(BUYER, second.order_no, "dispute", "太慢", [], world.clock.now(), rules)
    assert (await world.admin("POST", f"/admin/api/after-sales/{one.case_no}/refuse", json={"reason": "已发货"}))[
        0] == 200  # fmt: skip
    assert Ticket.get_by_id(one.id).rating_asked_at == world.clock.now()
    follower = world.follower()
    await follower.send_text(BUYER, "售后")  # a flow asks which kind: "3" is its answer, not a rating
    mid = await follower.send_text(BUYER, "3")
    assert "换货" in mid.shown and Ticket.get_by_id(one.id).rating is None, mid.shown
    await follower.send_text(BUYER, "取消")
    declined = await follower.send_text(BUYER, "不评价")
    assert declined.shown == f"好的，售后单{one.case_no}不评价了。有需要随时找我～"
    assert Ticket.get_by_id(one.id).rating == 0

    world.clock.advance(hours=1)
    assert (await world.admin("POST", f"/admin/api/after-sales/{two.case_no}/approve", json={}))[0] == 200
    world.clock.advance(days=7, seconds=1)
    late = await follower.send_text(BUYER, "2")
    assert not_a_rating(late.shown) and Ticket.get_by_id(two.id).rating is None, "the ask lapsed after 7 days"
    assert len(notices(BUYER, "rating_request")) == 2
    world.clock.advance(days=-1)
    low = await follower.send_text(BUYER, "二星")
    assert low.shown.startswith("收到您的2分评价，很抱歉这次没让您满意") and Ticket.get_by_id(two.id).rating == 2


async def test_the_service_kpi_per_operator_in_the_api_and_the_cli(world: ServiceWorld, env: dict[str, str]) -> None:
    rules = world.after_sales
    opened = world.clock.now()
    tickets = [open_ticket(BUYER, paid_order(world.shop, BUYER).order_no, "refund", "拍错了", [], opened, rules)
               for _ in range(3)]  # fmt: skip
    decisions = ((tickets[0], "小王", 10), (tickets[1], "小王", 50), (tickets[2], "小李", 20))
    for ticket, operator, hours in decisions:
        world.clock.set(opened + timedelta(hours=hours))
        status, _ = await world.admin("POST", f"/admin/api/after-sales/{ticket.case_no}/refuse",
                                      json={"reason": "已发货", "operator": operator})  # fmt: skip
        assert status == 200
    late = open_ticket(OTHER, paid_order(world.shop, OTHER).order_no, "refund", "不要了", [], opened, rules)
    follower = world.follower()
    assert (await follower.send_text(BUYER, "4")).shown.startswith("收到您的4分评价"), "the latest ask: 小李's"
    Ticket.update(rating=2, rated_at=world.clock.now()).where(Ticket.id == tickets[0].id).execute()
    world.clock.set(opened + timedelta(days=3))

    status, kpi = await world.admin("GET", "/admin/api/after-sales/kpi?days=7")
    assert status == 200, kpi
    assert kpi["operators"] == [
        {"operator": "小李", "answered": 1, "response_hours": 20.0, "sla_hit": 1, "sla_hit_rate": 1.0, "rated": 1,
         "average_rating": 4.0},
        {"operator": "小王", "answered": 2, "response_hours": 30.0, "sla_hit": 1, "sla_hit_rate": 0.5, "rated": 1,
         "average_rating": 2.0},
    ]  # fmt: skip
    assert (kpi["total"]["answered"], kpi["total"]["sla_hit_rate"], kpi["total"]["average_rating"]) == (3, 0.6667, 3.0)
    assert kpi["open_overdue"] == 1 and Ticket.get_by_id(late.id).status == "open"
    async with world.pay.session.get(f"{world.pay.shop_url}/admin/api/after-sales/kpi?days=7&format=csv",
                                     headers={"Authorization": "Bearer admin-secret-token"}) as response:
        assert response.status == 200 and response.content_type == "text/csv"
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["operator"], r["answered"], r["sla_hit_rate"], r["average_rating"]) for r in rows] == [
        ("小李", "1", "1.0", "4.0"), ("小王", "2", "0.5", "2.0"), ("*", "3", "0.6667", "3.0")]  # fmt: skip
    assert (await world.admin("GET", "/admin/api/after-sales/kpi?days=0"))[0] == 400

    clock = {"WXSHOP_CLOCK": f"frozen:{world.clock.now().isoformat()}"}
    table = wxshop("after-sales", "report", "--days", "7", env={**env, **clock})
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[1:] == ["处理人\t已答复\t平均响应(小时)\t时效达标率\t评价数\t平均评分",
                         "小李\t1\t20.0\t100.0%\t1\t4.0", "小王\t2\t30.0\t50.0%\t1\t2.0",
                         "合计\t3\t26.67\t66.7%\t2\t3.0", "超时未答复：1"]  # fmt: skip
    as_csv = wxshop("after-sales", "report", "--csv", env={**env, **clock})
    assert as_csv.returncode == 0 and as_csv.stdout.splitlines()[-1] == "*,3,26.67,2,0.6667,2,3.0"
    assert wxshop("after-sales", "report", "--days", "0", env=env).returncode != 0


async def test_the_new_notices_go_out_as_template_messages_through_their_mappings(migrated: Config) -> None:
    templates = {  # case numbers (22 characters) are left out: WeChat shows at most 20 (WECHAT.md §2.3)
        "compensation": {"template_id": "TPL_COMP", "fields": {"compensation": "thing2", "granted_at": "time3"}},
        "reshipped": {"template_id": "TPL_RESHIP", "fields": {"carrier": "thing2", "tracking_no": "character_string3",
                                                              "shipped_at": "time4"}},
        "rating_request": {"template_id": "TPL_RATE", "fields": {"item": "thing2", "closed_at": "time3",
                                                                 "how": "thing4"}},
    }  # fmt: skip
    async with service_world(dataclasses.replace(migrated, templates=templates)) as world:
        world.pay.sandbox.world.follow(OTHER)  # never chatted: no customer-service window
        order = paid_order(world.shop, OTHER)
        await world.ship(order.order_no)
        ticket = open_ticket(OTHER, order.order_no, "exchange", "换个颜色", [], world.clock.now(), world.after_sales)
        assert (await world.admin("POST", f"/admin/api/after-sales/{ticket.case_no}/compensate",
                                  json={"amount_fen": 500}))[0] == 201  # fmt: skip
        await world.admin("POST", f"/admin/api/after-sales/{ticket.case_no}/approve", json={})
        parcel = {"carrier": "yuantong", "tracking_no": "YT3000000001"}
        assert (await world.admin("POST", f"/admin/api/after-sales/{ticket.case_no}/ship", json=parcel))[0] == 201
        await world.deliver_notices()
        sent = {d.payload["template_id"]: d.payload["data"] for d in world.pay.sandbox.world.delivered(OTHER)
                if d.kind == "template"}  # fmt: skip
        assert sent["TPL_COMP"]["thing2"] == {"value": "售后补偿500积分"}
        assert sent["TPL_RESHIP"] == {"thing2": {"value": "圆通速递"}, "character_string3": {"value": "YT3000000001"},
                                      "time4": {"value": "2026-11-24 10:00"}}  # fmt: skip
        assert sent["TPL_RATE"]["thing4"] == {"value": "回复数字1-5评分"}
        went = {n.kind: (n.channel, n.status in ("sent", "delivered")) for n in Notice.select().where(
            Notice.openid == OTHER, Notice.kind.in_(["compensation", "reshipped", "rating_request"]))}  # fmt: skip
        assert went == dict.fromkeys(("compensation", "reshipped", "rating_request"), ("template", True))


def test_racing_compensations_and_ratings_happen_once(migrated: Config) -> None:
    open_database(migrated.database.url, migrated.var_dir)
    try:
        shop, rules = make_shop(), AfterSalesRules()
        order = paid_order(shop, BUYER)
        ticket = open_ticket(BUYER, order.order_no, "dispute", "客服态度差", [], START, rules)
        before = points_balance(BUYER)
        results = race(8, 8, lambda i: compensate(ticket.case_no, START, rules, method="points", amount_fen=500,
                                                  by=f"op{i}"))  # fmt: skip
        granted = [r for r in results if isinstance(r, Compensation)]
        assert len(granted) == 1 and all(isinstance(r, AlreadyCompensated) for r in results if r not in granted)
        assert points_balance(BUYER) - before == 500 and len(notices(BUYER, "compensation")) == 1

        refuse(ticket.case_no, "已核实", START, rules)
        rated = race(8, 8, lambda i: rate(BUYER, 1 + i % 5, START + timedelta(minutes=1), days=7))
        assert len([r for r in rated if isinstance(r, Ticket)]) == 1, "one answer is kept"
        kept = Ticket.get_by_id(ticket.id)
        assert kept.rating in range(1, 6) and len(notices(BUYER, "rating_request")) == 1

        returned = paid_order(shop, BUYER)  # compensated before the decision: no 运费险补贴 on top
        ship_order(returned.order_no, "yuantong", "YT1234567890", START)
        early = open_ticket(BUYER, returned.order_no, "return", "破损", [], START, rules)
        compensate(early.case_no, START, rules, method="transfer", amount_fen=300)
        assert approve(early.case_no, START, rules).amount_fen == returned.payable_fen
        assert Compensation.get(Compensation.case_no == early.case_no).method == "transfer"
    finally:
        close_database()


def test_a_coupon_compensation_issues_the_configured_coupon(migrated: Config) -> None:
    open_database(migrated.database.url, migrated.var_dir)
    try:
        shop = make_shop()
        create_template("SORRY10", "fixed", 1000, START, valid_days=60)
        rules = AfterSalesRules(compensation_coupon="SORRY10")
        ticket = open_ticket(BUYER, paid_order(shop, BUYER).order_no, "refund", "拍错了", [], START, rules)
        paid = compensate(ticket.case_no, START, rules, method="coupon", note="致歉")
        coupon = Coupon.get(Coupon.code == paid.coupon_code)
        assert (coupon.openid, coupon.source, coupon.template.code) == (BUYER, f"comp:{ticket.case_no}",
                                                                         "SORRY10")  # fmt: skip
        assert (paid.amount_fen, paid.status, paid.describe()) == (1000, "granted", "售后补偿券1张")
        assert fields(notices(BUYER, "compensation")[0])["compensation"] == "售后补偿券1张"
    finally:
        close_database()
