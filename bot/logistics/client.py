"""Kuaidi100's subscribe (`POST {base}/poll`) and real-time query (`POST {base}/poll/query.do`) over `requests`,
pointed at `[logistics] api_base_url` (the sandbox by default): `store.logistics.tracking.TrackingProvider` for the
jobs.

Blocking: call it from a job thread. Each call uses its own short-lived session, so threads share nothing.
Errors come back as `store.logistics.tracking.TrackingError` (returnCode, or None when the provider could not be
reached).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import requests

from bot.process.config import Config
from store.logistics.tracking import TrackingError

NOTIFY_PATH = "/logistics/notify"
RESULTV2 = "4"  # advanced state codes (103 已揽收, 1002 干线…) and areas: we tell 未揽收 from 已揽收 by them


def _md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


class Kuaidi100Client:
    def __init__(self, *, base_url: str, key: str, customer: str, salt: str, callback_url: str,
                 timeout: float = 10.0) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.customer = customer
        self.salt = salt
        self.callback_url = callback_url
        self.timeout = timeout

    @classmethod
    def from_config(cls, config: Config) -> Kuaidi100Client:
        logistics = config.logistics
        return cls(
            base_url=logistics.api_base_url, key=logistics.key, customer=logistics.customer, salt=logistics.salt,
            callback_url=config.server.public_url.rstrip("/") + NOTIFY_PATH, timeout=config.wechat.timeout_s,
        )  # fmt: skip

    def _post(self, path: str, form: Mapping[str, str]) -> dict[str, Any]:
        try:
            with requests.Session() as session:
                response = session.post(f"{self.base_url}{path}", data=dict(form), timeout=self.timeout)
        except requests.RequestException as exc:
            raise TrackingError(None, f"{path}: {exc}") from None
        if response.status_code >= 500:
            raise TrackingError(None, f"{path}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise TrackingError(None, f"{path}: HTTP {response.status_code}, not JSON") from None
        if not isinstance(body, dict):
            raise TrackingError(None, f"{path}: unexpected answer")
        return body

    def subscribe(self, company: str, number: str, phone: str) -> None:
        parameters = {"callbackurl": self.callback_url, "salt": self.salt, "resultv2": RESULTV2}
        if phone:
            parameters["phone"] = phone
        param = {"company": company, "number": number, "key": self.key, "parameters": parameters}
        body = self._post("/poll", {"schema": "json", "param": json.dumps(param, ensure_ascii=False)})
        if body.get("result") is not True or str(body.get("returnCode")) != "200":
            raise TrackingError(str(body.get("returnCode") or "") or None, str(body.get("message") or ""))

    def query(self, company: str, number: str, phone: str) -> Mapping[str, Any]:
        if not self.customer:
            raise TrackingError("config", "[logistics] customer is empty: the real-time query is not configured")
        data = {"com": company, "num": number, "resultv2": RESULTV2}
        if phone:
            data["phone"] = phone
        param = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        form = {"customer": self.customer, "param": param, "sign": _md5_upper(param + self.key + self.customer)}
        body = self._post("/poll/query.do", form)
        if body.get("message") != "ok" or not isinstance(body.get("data"), list):
            raise TrackingError(str(body.get("returnCode") or body.get("status") or "") or None,
                                str(body.get("message") or ""))  # fmt: skip
        return body
