"""The framework-free cores of the pay and courier callbacks (handlers.pay_notice, handlers.tracking_push): what
they decide from a notice alone, without HTTP, Redis or a database. The full paths are in test_pay_http.py and
test_tracking_push.py."""

from __future__ import annotations

import hashlib
import json

from handlers.pay_notice import judge_notice
from handlers.tracking_push import PushVerdict, read_push, sign_ok

APP, MCH = "wx0000000000000001", "1900000001"


def notice(**fields: object) -> dict[str, object]:
    base = {"appid": APP, "mch_id": MCH, "return_code": "SUCCESS", "result_code": "SUCCESS",
            "out_trade_no": "WX1", "transaction_id": "4200", "total_fee": 100, "openid": "o_b"}  # fmt: skip
    return {**base, **fields}


def test_a_complete_payment_goes_on_to_be_recorded() -> None:
    assert judge_notice(notice(), APP, MCH) is None


def test_another_merchant_is_refused_and_names_what_it_sent() -> None:
    verdict = judge_notice(notice(mch_id="1999999999"), APP, MCH)
    assert verdict is not None and not verdict.ok and verdict.refused and verdict.label == "wrong_merchant"
    assert verdict.context["mch_id"] == "1999999999"


def test_a_failed_payment_is_acknowledged_and_changes_nothing() -> None:
    verdict = judge_notice(notice(result_code="FAIL", err_code="NOTENOUGH"), APP, MCH)
    assert verdict is not None and verdict.ok and verdict.label == "not_paid" and verdict.result is None


def test_a_notice_missing_what_a_payment_needs_is_refused() -> None:
    for missing in ({"transaction_id": ""}, {"out_trade_no": None}, {"total_fee": "100"}):
        verdict = judge_notice(notice(**missing), APP, MCH)
        assert verdict is not None and verdict.label == "incomplete", missing


def test_a_push_is_read_only_with_its_sign() -> None:
    param = json.dumps({"status": "polling", "lastResult": {"com": "yuantong", "nu": "YT1", "data": []}})
    good = hashlib.md5((param + "salt").encode()).hexdigest()
    assert sign_ok(param, good.upper(), "salt"), "the hex case is not known: either is accepted"
    assert not sign_ok(param, good, "other")
    refused = read_push(param, "0" * 32, "salt")
    assert isinstance(refused, PushVerdict) and refused.label == "bad_sign" and refused.body()["result"] is False
    missing = read_push("", good, "salt")
    assert isinstance(missing, PushVerdict) and missing.label == "malformed"
    garbled = read_push("{not json", hashlib.md5(b"{not jsonsalt").hexdigest(), "salt")
    assert isinstance(garbled, PushVerdict) and garbled.label == "malformed"
