"""A local Kuaidi100-style express-tracking service: subscribe (`POST /poll`), pushes, real-time query.

After a subscription, each `advance()` (or, in the demo, each `auto_walk` period of the clock) moves the parcel
one step along its scenario (`tracking_script.SCENARIOS`) and form-POSTs `param` (JSON) and `sign` to the
callbackurl. The receiver must answer `{"result":true,"returnCode":"200",…}`; otherwise the same payload is
re-pushed `repush_after` later, `max_repushes` times. Decisions where Kuaidi100's behaviour is unconfirmed
(WECHAT.md §5, §7):

* `sign = md5(param + salt)` as 32 upper-case hex digits; receivers should compare case-insensitively. It is
  sent whenever the subscription carried a `salt` key, even an empty one; never without.
* Re-push: 30 min × 3 of the failed payload itself, so a re-push can arrive after a newer state (out of order).
* Return codes: 600 bad key, 700 bad data (unknown company, number not 6–32 of [A-Za-z0-9-], bad callbackurl),
  701 refused company, 702 autoCom without company, 501 "POLL:重复订阅" past 4 subscriptions of one
  company+number in a calendar month (Asia/Shanghai). A resubscription replaces callbackurl/salt/resultv2.
* 顺丰 (shunfeng, shunfengkuaiyun, fengwang) subscribed without `phone` is accepted but never finds a trace:
  the parcel follows the `no_record` scenario, as the real service gives no data without the phone.
* Real-time query: `sign = md5(param + key + customer)` upper-case, compared exactly; 503 bad sign,
  400 bad param, 408 missing phone (顺丰/中通), 500 "查询无结果" while there is no trace.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from bot.sandbox import tracking_http
from bot.sandbox.courier import Attempt, Courier, Delivery
from bot.sandbox.fault_plan import FaultPlan
from bot.sandbox.tracking_script import SCENARIOS, Step, TraceEvent, last_result, push_body
from store.core.clock import Clock, process_clock

DEFAULT_COMPANIES = frozenset({
    "shunfeng", "shunfengkuaiyun", "fengwang", "yuantong", "zhongtong", "yunda", "shentong", "jd", "ems",
    "youzhengguonei", "jtexpress", "debangkuaidi", "huitongkuaidi", "jinguangsudikuaijian",
})
PHONE_FOR_SUBSCRIBE = frozenset({"shunfeng", "shunfengkuaiyun", "fengwang"})
PHONE_FOR_QUERY = PHONE_FOR_SUBSCRIBE | {"zhongtong"}
NUMBER = re.compile(r"[A-Za-z0-9-]{6,32}")
MONTHLY_SUBSCRIPTIONS = 4
BAD_DATA = "订阅方的订阅数据存在错误（如不支持的快递公司、单号为空、单号超长等）或错误的回调地址"

Answer = dict[str, Any]


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def _refusal(code: str, message: str) -> Answer:
    return {"result": False, "returnCode": code, "message": message}


def _push_acknowledged(status: int, body: str) -> bool:
    """Kuaidi100 counts a push as received only on `{"result": true, "returnCode": "200"}`."""
    if not 200 <= status < 300:
        return False
    try:
        reply = json.loads(body)
    except ValueError:
        return False
    return isinstance(reply, dict) and reply.get("result") is True and str(reply.get("returnCode")) == "200"


@dataclass
class Subscription:
    callbackurl: str
    salt: str | None
    resultv2: str
    phone: str
    at: datetime


@dataclass
class Parcel:
    """One company+number: its script, the trace so far (oldest first), subscriptions and pushes."""

    company: str
    number: str
    scenario: str
    steps: tuple[Step, ...]
    events: list[TraceEvent] = field(default_factory=list)
    cursor: int = 0
    monitor: str = "polling"
    message: str = ""
    subscription: Subscription | None = None
    subscribed_at: list[datetime] = field(default_factory=list)
    pushes: list[Delivery] = field(default_factory=list)
    next_step_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.cursor >= len(self.steps) or self.monitor != "polling"


class TrackingEmulator:
    """Subscriptions, scripted parcels and their pushes; test hooks: advance, push_again, deliver_due."""

    def __init__(
        self,
        *,
        key: str,
        customer: str = "",
        clock: Clock | None = None,
        companies: Iterable[str] = DEFAULT_COMPANIES,
        refused_companies: Iterable[str] = (),
        default_scenario: str = "normal",
        repush_after: timedelta = timedelta(minutes=30),
        max_repushes: int = 3,
        push_timeout: float = 20.0,
        auto_walk: timedelta | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        if default_scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {default_scenario!r}")
        self.key = key
        self.customer = customer
        self.clock: Clock = clock or process_clock()
        self.companies = frozenset(companies)
        self.refused_companies = frozenset(refused_companies)
        self.default_scenario = default_scenario
        self.auto_walk = auto_walk
        self.poll_interval = poll_interval
        self.parcels: dict[tuple[str, str], Parcel] = {}
        self._scenarios: dict[tuple[str, str], str] = {}
        self.courier = Courier(self.clock, [repush_after] * max_repushes, push_timeout, _push_acknowledged)
        self.faults = FaultPlan()

    # -- set-up ----------------------------------------------------------------------------------------
    def set_scenario(self, company: str, number: str, scenario: str) -> None:
        """Choose the walk of a parcel before it is first subscribed (default: `default_scenario`)."""
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
        self._scenarios[(company, number)] = scenario
        parcel = self.parcels.get((company, number))
        if parcel is not None and parcel.cursor == 0:
            parcel.scenario, parcel.steps = scenario, SCENARIOS[scenario]

    def parcel(self, number: str, company: str | None = None) -> Parcel:
        found = [p for (com, nu), p in self.parcels.items() if nu == number and company in (None, com)]
        if len(found) != 1:
            raise LookupError(f"{'no' if not found else 'several'} parcels numbered {number}; name the company")
        return found[0]

    # -- POST /poll ------------------------------------------------------------------------------------
    def subscribe(self, form: Mapping[str, str]) -> Answer:
        """Kuaidi100's subscribe: validate, count the month's subscriptions, (re)start monitoring."""
        try:
            data = json.loads(form.get("param", ""))
        except ValueError:
            return _refusal("700", BAD_DATA)
        if form.get("schema", "json") != "json" or not isinstance(data, dict):
            return _refusal("700", BAD_DATA)
        if data.get("key") != self.key:
            return _refusal("600", "您不是合法的订阅者（即授权Key出错）")
        parameters = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
        company, number = str(data.get("company") or "").strip(), str(data.get("number") or "").strip()
        callback = urlsplit(str(parameters.get("callbackurl") or ""))
        if not company and str(parameters.get("autoCom")) == "1":
            return _refusal("702", "POLL:识别不到该单号对应的快递公司")
        if company in self.refused_companies:
            return _refusal("701", "拒绝订阅的快递公司")
        if company not in self.companies or not NUMBER.fullmatch(number) or callback.scheme not in ("http", "https") \
                or not callback.hostname:
            return _refusal("700", BAD_DATA)
        now = self.clock.now()
        parcel = self.parcels.get((company, number)) or Parcel(company, number, "", ())
        this_month = [at for at in parcel.subscribed_at if (at.year, at.month) == (now.year, now.month)]
        if len(this_month) >= MONTHLY_SUBSCRIPTIONS:
            return _refusal("501", "POLL:重复订阅")
        phone = str(parameters.get("phone") or "")
        if parcel.cursor == 0:  # not moved yet: the script follows this subscription
            chosen = self._scenarios.get((company, number), self.default_scenario)
            if company in PHONE_FOR_SUBSCRIBE and not phone:
                chosen = "no_record"
            parcel.scenario, parcel.steps = chosen, SCENARIOS[chosen]
        salt = parameters.get("salt")
        parcel.subscription = Subscription(callback.geturl(), None if salt is None else str(salt),
                                           str(parameters.get("resultv2") or "0"), phone, now)
        parcel.subscribed_at.append(now)
        parcel.next_step_at = now + self.auto_walk if self.auto_walk and not parcel.finished else None
        self.parcels[(company, number)] = parcel
        return {"result": True, "returnCode": "200", "message": "提交成功"}

    # -- pushes ----------------------------------------------------------------------------------------
    def push_param(self, parcel: Parcel) -> str:
        """The `param` JSON string pushed for the parcel's current state."""
        sub = parcel.subscription
        resultv2 = sub.resultv2 if sub else "0"
        body = push_body(parcel.company, parcel.number, parcel.events, resultv2, parcel.monitor, parcel.message)
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    def _queue_push(self, parcel: Parcel, param: str) -> Delivery:
        sub = parcel.subscription
        if sub is None:
            raise LookupError(f"{parcel.company} {parcel.number} is not subscribed")
        form = {"param": param} if sub.salt is None else {"param": param, "sign": md5_upper(param + sub.salt)}
        delivery = self.courier.enqueue(f"{parcel.company}:{parcel.number}", sub.callbackurl,
                                        urlencode(form).encode("ascii"), "application/x-www-form-urlencoded")
        parcel.pushes.append(delivery)
        return delivery

    async def advance(self, number: str, company: str | None = None) -> Delivery | None:
        """Move the parcel one step now and push it; None when its script is over (nothing is sent)."""
        parcel = self.parcel(number, company)
        if parcel.subscription is None:
            raise LookupError(f"{parcel.company} {number} is not subscribed")
        if parcel.finished:
            return None
        step = parcel.steps[parcel.cursor]
        parcel.cursor += 1
        now = self.clock.now()
        if step.code is not None:
            parcel.events.append(TraceEvent(step.code, step.context, now, step.place))
        parcel.monitor, parcel.message = step.monitor, step.message
        parcel.next_step_at = now + self.auto_walk if self.auto_walk and not parcel.finished else None
        delivery = self._queue_push(parcel, self.push_param(parcel))
        await self.courier.deliver_next(delivery)
        return delivery

    async def push_again(self, number: str, index: int = -1, *, copies: int = 1,
                         company: str | None = None) -> list[Attempt]:
        """Re-send an earlier push now (`index` into the parcel's pushes): duplicates with `copies` > 1 sent
        concurrently, out-of-order delivery with an older index. It retries like any push."""
        parcel = self.parcel(number, company)
        earlier = parcel.pushes[index]
        delivery = self.courier.enqueue(earlier.key, earlier.url, earlier.payload, earlier.content_type)
        parcel.pushes.append(delivery)
        return await self.courier.deliver_duplicates(delivery, copies)

    async def deliver_due(self) -> list[Attempt]:
        """Send the re-pushes that are due by the clock."""
        return await self.courier.deliver_due()

    async def walk_due(self) -> list[Delivery]:
        """Demo mode (`auto_walk`): advance every parcel whose next step is due by the clock."""
        now = self.clock.now()
        due = [p for p in self.parcels.values() if p.next_step_at is not None and p.next_step_at <= now]
        pushed = [await self.advance(p.number, p.company) for p in due]
        return [d for d in pushed if d is not None]

    # -- POST /poll/query.do ---------------------------------------------------------------------------
    def query(self, form: Mapping[str, str]) -> Answer:
        """Real-time query of the current trace (the product's polling fallback)."""
        param, customer = form.get("param", ""), form.get("customer", "")
        if not self.customer or customer != self.customer or form.get("sign", "") != md5_upper(
                param + self.key + customer):
            return _refusal("503", "验证签名失败")
        try:
            data = json.loads(param)
        except ValueError:
            return _refusal("400", "提交的数据不完整，或者贵公司没授权")
        if not isinstance(data, dict) or not data.get("com") or not data.get("num"):
            return _refusal("400", "提交的数据不完整，或者贵公司没授权")
        company, number = str(data["com"]), str(data["num"])
        if company not in self.companies:
            return _refusal("400", "找不到对应公司")
        if company in PHONE_FOR_QUERY and not data.get("phone"):
            return _refusal("408", "验证码错误：顺丰、中通须提供收/寄件人电话")
        parcel = self.parcels.get((company, number))
        if parcel is None or not parcel.events:
            return _refusal("500", "查询无结果，请隔段时间再查")
        result = last_result(company, number, parcel.events, str(data.get("resultv2") or "0"))
        if data.get("order") == "asc":
            result["data"].reverse()
        return result

    # -- lifecycle -------------------------------------------------------------------------------------
    async def lifespan(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx: the one HTTP session for pushes and, with `auto_walk`, the background walker."""
        async with self.courier.serving(self.poll_interval, self.auto_walk, self.walk_due):
            yield


TRACKING_EMULATOR = web.AppKey("tracking_emulator", TrackingEmulator)


def setup_tracking(app: web.Application, tracker: TrackingEmulator) -> None:
    """Serve `tracker` from `app` (its routes, its session in cleanup_ctx)."""
    app[TRACKING_EMULATOR] = tracker
    tracking_http.add_routes(app.router, tracker)
    app.cleanup_ctx.append(tracker.lifespan)


def create_tracking_app(tracker: TrackingEmulator) -> web.Application:
    """A stand-alone Kuaidi100-style server: subscribe at `{base}/poll`, query at `{base}/poll/query.do`."""
    app = web.Application()
    setup_tracking(app, tracker)
    return app
