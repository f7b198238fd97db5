"""The tracking provider's push (Kuaidi100-style, WECHAT.md §5), judged and stored: the framework-free core of
`POST /logistics/notify`.

The sign is `md5(param + [logistics] salt)`, compared case-insensitively (the hex case is unconfirmed). A missing
or wrong sign, or a `param` that is not a trace, is refused. A good push goes to `store.logistics.tracking.
apply_trace`; any error storing it is refused too, so the provider pushes again. Duplicates, out-of-order
re-pushes and parcels we do not know are acknowledged (nothing to do; refusing would only bring them back).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from store.logistics.parcel_alerts import LogisticsRules
from store.logistics.tracking import Trace, TraceInvalid, apply_trace, parse_push


@dataclass(frozen=True)
class PushVerdict:
    label: str
    ok: bool
    message: str
    context: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        """The provider's answer format."""
        return {"result": self.ok, "returnCode": "200" if self.ok else "500", "message": self.message}


def sign_ok(param: str, sign: str, salt: str) -> bool:
    expected = hashlib.md5((param + salt).encode("utf-8")).hexdigest()
    return hmac.compare_digest(sign.strip().lower().encode(), expected.encode())


def read_push(param: object, sign: object, salt: str) -> Trace | PushVerdict:
    """The trace a push carries, or the refusal to answer."""
    if not isinstance(param, str) or not param:
        return PushVerdict("malformed", False, "缺少param")
    if not isinstance(sign, str) or not sign_ok(param, sign, salt):
        return PushVerdict("bad_sign", False, "签名错误")
    try:
        return parse_push(param)
    except TraceInvalid as exc:
        return PushVerdict("malformed", False, "数据格式错误", {"error": str(exc)})


def store_push(trace: Trace, now: datetime, rules: LogisticsRules) -> PushVerdict:
    """Store the trace (blocking: run it on a handler thread); never raises."""
    where = {"company": trace.company, "number": trace.number}
    try:
        outcome = apply_trace(trace, now, rules)
    except Exception as exc:  # the database, or a bug: refuse (the provider pushes again), never a 500
        return PushVerdict("error", False, "系统繁忙", {**where, "error": repr(exc), "type": type(exc).__name__})
    return PushVerdict(outcome.value, True, "成功", {**where, "monitor": trace.monitor})
