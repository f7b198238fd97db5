"""The outbox's sends to WeChat over one aiohttp `ClientSession`: many requests in flight on the event loop
instead of one blocking wechatpy call per thread.

The access token is the gateway's (bot/wechat/api.py `TokenStore` in Redis, shared by every process): read once and
kept a minute, and on a token error (40001/40014/42001) replaced through the gateway's single-flight refresh and
the request retried once. WeChat's errcodes surface as `store.core.wechat_errors` types; network failures as
`WeChatError(None)` (retryable).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
from yarl import URL

from scheduler.outbox_ports import TemplateSent
from store.core.wechat_errors import TOKEN_ERRCODES, OutcomeUnknown, WeChatError, wechat_error

TOKEN_REREAD_S = 60.0
_JSON = {"Content-Type": "application/json; charset=utf-8"}


class TokenSource(Protocol):
    def access_token(self) -> str: ...

    def replace_token(self, stale: str) -> str: ...


class AsyncWeChatSender:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, tokens: TokenSource) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self._token: str | None = None
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()
        self._urls: dict[tuple[str, str], URL] = {}

    async def send_text(self, openid: str, content: str) -> None:
        payload = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        body = await self._post("/cgi-bin/message/custom/send", payload)
        _raise_for(body)

    async def send_template(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, Mapping[str, str]],
        url: str | None,
        client_msg_id: str,
    ) -> TemplateSent:
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": data,
            "client_msg_id": client_msg_id,
        }
        if url:
            payload["url"] = url
        body = await self._post("/cgi-bin/message/template/send", payload)
        if body.get("errcode") == 45065:
            msgid = body.get("msgid")
            return TemplateSent(int(msgid) if msgid else None, duplicate=True)
        _raise_for(body)
        return TemplateSent(int(body["msgid"]) if body.get("msgid") else None)

    async def _post(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        data = json.dumps(payload, ensure_ascii=False).encode()
        token = await self._current_token()
        body = await self._once(path, data, token)
        if body.get("errcode") in TOKEN_ERRCODES:
            body = await self._once(path, data, await self._replace_token(token))
        return body

    async def _once(self, path: str, data: bytes, token: str) -> dict[str, Any]:
        try:
            async with self.session.post(self._url(path, token), data=data, headers=_JSON) as response:
                raw = await response.read()
                if response.status != 200:
                    raise OutcomeUnknown(f"HTTP {response.status} from {path}")
            body = json.loads(raw)
        except aiohttp.ClientConnectorError as exc:  # no connection: nothing went
            raise WeChatError(None, f"network: {type(exc).__name__}: {exc}") from None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:  # the request may have arrived
            raise OutcomeUnknown(f"network: {type(exc).__name__}: {exc}") from None
        if not isinstance(body, dict):
            raise OutcomeUnknown(f"unexpected answer from {path}")
        return body

    def _url(self, path: str, token: str) -> URL:
        """The request URL, built once per token (yarl's query encoding is a good part of a request's cost)."""
        url = self._urls.get((path, token))
        if url is None:
            if len(self._urls) > 16:
                self._urls.clear()
            url = self._urls[(path, token)] = URL(f"{self.base_url}{path}?access_token={quote(token)}", encoded=True)
        return url

    async def _current_token(self) -> str:
        if self._token is not None and time.monotonic() - self._read_at < TOKEN_REREAD_S:
            return self._token
        async with self._lock:
            if self._token is None or time.monotonic() - self._read_at >= TOKEN_REREAD_S:
                self._token = await asyncio.to_thread(self.tokens.access_token)
                self._read_at = time.monotonic()
            return self._token

    async def _replace_token(self, stale: str) -> str:
        """One refresh for all the requests that saw `stale` refused, whichever comes first."""
        async with self._lock:
            if self._token is not None and self._token != stale:
                return self._token
            self._token = await asyncio.to_thread(self.tokens.replace_token, stale)
            self._read_at = time.monotonic()
            return self._token


def _raise_for(body: Mapping[str, Any]) -> None:
    errcode = body.get("errcode", 0)
    if errcode:
        raise wechat_error(int(errcode), str(body.get("errmsg", "")))
