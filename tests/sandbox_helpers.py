"""Pointing the real wechatpy clients at the sandbox, and a callback receiver that checks pushes as our server
must: this is how product code talks to the emulator (WECHAT.md §4.2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import xmltodict
from aiohttp import web
from wechatpy import WeChatClient
from wechatpy.crypto import WeChatCrypto
from wechatpy.oauth import WeChatOAuth
from wechatpy.utils import check_signature


class SandboxWeChatClient(WeChatClient):
    """wechatpy's client with the base URL moved: `API_BASE_URL` on the instance, and `fetch_access_token`
    overridden because wechatpy hard-codes https://api.weixin.qq.com/cgi-bin/token there."""

    def __init__(self, base_url: str, appid: str, secret: str) -> None:
        super().__init__(appid, secret, auto_retry=False, timeout=10)
        self.base_url = base_url.rstrip("/")
        self.API_BASE_URL = f"{self.base_url}/cgi-bin/"

    def fetch_access_token(self) -> dict[str, Any]:
        return self._fetch_access_token(
            url=f"{self.base_url}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


class SandboxOAuth(WeChatOAuth):
    """wechatpy's web OAuth with both of its base URLs on the sandbox."""

    def __init__(self, base_url: str, app_id: str, secret: str, redirect_uri: str, state: str = "") -> None:
        super().__init__(app_id, secret, redirect_uri, scope="snsapi_base", state=state)
        base = base_url.rstrip("/")
        self.API_BASE_URL = f"{base}/"
        self.OAUTH_BASE_URL = f"{base}/connect/"


@dataclass
class Push:
    query: dict[str, str]
    body: str
    message: dict[str, Any]


@dataclass
class Receiver:
    """The account's callback URL as a test double: verifies `signature` (and `msg_signature` + AppId in AES
    modes) with wechatpy, decrypts, and keeps what arrived. `statuses` scripts the HTTP status of each answer."""

    token: str
    app_id: str
    encoding_aes_key: str = ""
    pushes: list[Push] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    hits: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/wechat", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.statuses:
            status = self.statuses.pop(0)
            if status != 200:
                return web.Response(status=status, text="boom")
        query = dict(request.query)
        body = await request.text()
        check_signature(self.token, query["signature"], query["timestamp"], query["nonce"])
        xml = body
        if query.get("encrypt_type") == "aes":
            crypto = WeChatCrypto(self.token, self.encoding_aes_key, self.app_id)
            xml = crypto.decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"])
        self.pushes.append(Push(query, body, xmltodict.parse(xml)["xml"]))
        return web.Response(text="success")
