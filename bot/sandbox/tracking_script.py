"""Scripted parcel walks for the express-tracking emulator and the Kuaidi100 JSON they produce (WECHAT.md §5).

A scenario is a fixed list of steps; each step may add one trace line (a state code, a context, a place) and
may end monitoring (`shutdown` once signed, `abort` with Kuaidi100's message). Rendering follows `resultv2`:
without it a trace line is only context/time/ftime; 1 adds the state name, statusCode and area; 4 and 8 add
areaCenter/areaPinYin and switch `state`/`statusCode` to the advanced codes (1002, 103, 301…). That last
switch is our reading of the docs (UNCONFIRMED): receivers should map codes with `basic_state`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

STATE_NAMES = MappingProxyType({
    "0": "在途", "1": "揽收", "2": "疑难", "3": "签收", "4": "退签",
    "5": "派件", "6": "退回", "7": "转投", "8": "清关", "14": "拒签",
})
SIGNED = frozenset({"3", "4"})


def basic_state(code: str) -> str:
    """The basic state of a code: 1001/1002/1003 → 0, 101–103 → 1, 2xx → 2, 301–304 → 3, 401 → 4, 501 → 5."""
    if code in STATE_NAMES:
        return code
    if len(code) == 4 and code.startswith("10"):
        return "0"
    if len(code) == 3 and code[0] in STATE_NAMES:
        return code[0]
    raise ValueError(f"unknown Kuaidi100 state code {code!r}")


@dataclass(frozen=True)
class Place:
    name: str
    code: str
    center: str
    pinyin: str


ORIGIN = Place("广东,深圳市", "CN440300000000", "114.057868,22.543099", "shen zhen shi")
HUB = Place("湖北,武汉市", "CN420100000000", "114.305393,30.593099", "wu han shi")
DESTINATION = Place("北京,北京市", "CN110000000000", "116.407526,39.90403", "bei jing shi")


@dataclass(frozen=True)
class Step:
    """One move of the script: a new trace line (when `code` is set) and the monitoring status after it."""

    code: str | None
    context: str = ""
    place: Place | None = None
    monitor: str = "polling"
    message: str = ""


@dataclass(frozen=True)
class TraceEvent:
    code: str
    context: str
    at: datetime
    place: Place | None


_COLLECTED = (
    Step("103", "【深圳市】 您的快件已由【深圳南山科技园营业点】揽收，揽收员：张师傅，电话：13800000000", ORIGIN),
    Step("1002", "【深圳市】 快件离开【深圳转运中心】，正在发往【武汉转运中心】", ORIGIN),
    Step("1002", "【武汉市】 快件到达【武汉转运中心】，正在发往【北京转运中心】", HUB),
    Step("1001", "【北京市】 快件已到达【北京转运中心】", DESTINATION),
)
_OUT_FOR_DELIVERY = Step(
    "5", "【北京市】 【朝阳望京营业点】的派件员【李师傅】正在为您派件，电话：13900000000", DESTINATION
)
_SIGNED = Step("301", "【北京市】 您的快件已签收，签收人：本人。感谢使用，期待再次为您服务。", DESTINATION, "shutdown")

SCENARIOS: MappingProxyType[str, tuple[Step, ...]] = MappingProxyType({
    # 1 揽收 → 0 在途 → 5 派件 → 3 签收
    "normal": (*_COLLECTED, _OUT_FOR_DELIVERY, _SIGNED),
    # a 2 疑难 episode on the way, then delivered
    "difficult": (
        *_COLLECTED,
        Step("2", "【北京市】 快件派送不成功，收件人电话无法接通，快件滞留于【朝阳望京营业点】", DESTINATION),
        _OUT_FOR_DELIVERY, _SIGNED,
    ),
    # refused at the door, sent back, 4 退签 by the sender
    "returned": (
        *_COLLECTED, _OUT_FOR_DELIVERY,
        Step("14", "【北京市】 收件人拒收，快件将退回寄件人", DESTINATION),
        Step("6", "【北京市】 快件已退回，正在发往【深圳转运中心】", DESTINATION),
        Step("4", "【深圳市】 退回件已由寄件人签收", ORIGIN, "shutdown"),
    ),
    # Kuaidi100 never finds the number: one push, monitoring aborted
    "no_record": (Step(None, monitor="abort", message="3天查询无记录"),),
    # a label was printed but no courier ever came; monitoring finally gives up
    "uncollected": (
        Step("101", "【深圳市】 商家已下单，等待快递员揽收", ORIGIN),
        Step(None, monitor="abort", message="60天无变化"),
    ),
})


def _level(resultv2: str) -> int:
    return int(resultv2) if resultv2.isdigit() else 0


def data_item(event: TraceEvent, resultv2: str) -> dict[str, str]:
    stamp = event.at.strftime("%Y-%m-%d %H:%M:%S")
    item = {"context": event.context, "time": stamp, "ftime": stamp}
    level = _level(resultv2)
    if level >= 1:
        basic = basic_state(event.code)
        place = event.place
        item |= {"status": STATE_NAMES[basic], "statusCode": event.code if level >= 4 else basic,
                 "areaCode": place.code if place else "", "areaName": place.name if place else ""}
    if level >= 4:
        item |= {"areaCenter": event.place.center if event.place else "",
                 "areaPinYin": event.place.pinyin if event.place else ""}
    return item


def last_result(company: str, number: str, events: list[TraceEvent], resultv2: str) -> dict[str, Any]:
    """The full trace, newest first, as `lastResult` of a push and the body of a real-time query."""
    if not events:
        return {"message": "快递公司参数异常：单号不存在或者已经过期", "nu": number, "ischeck": "0", "condition": "",
                "com": company, "status": "201", "state": "0", "data": []}
    newest = events[-1].code
    return {
        "message": "ok", "nu": number, "ischeck": "1" if basic_state(newest) in SIGNED else "0",
        "condition": "F00", "com": company, "status": "200",
        "state": newest if _level(resultv2) >= 4 else basic_state(newest),
        "data": [data_item(e, resultv2) for e in reversed(events)],
    }


def push_body(company: str, number: str, events: list[TraceEvent], resultv2: str, monitor: str,
              message: str) -> dict[str, Any]:
    """The `param` JSON of a push: monitoring status plus the full trace."""
    basic = basic_state(events[-1].code) if events else ""
    billstatus = {"1": "got", "5": "sending", "3": "check", "4": "check"}.get(basic, "")  # deprecated field
    return {"status": monitor, "billstatus": billstatus, "message": message, "autoCheck": "0", "comOld": "",
            "comNew": "", "lastResult": last_result(company, number, events, resultv2)}
