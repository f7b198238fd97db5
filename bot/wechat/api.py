"""The outbound gateway: one wechatpy client per process, pointed at `[wechat] api_base_url`.

The access token is shared by every process through Redis, refreshed by one process at a time (a Redis lock:
single flight across hosts). A token error (40001/40014/42001) is answered by exactly one refetch — only if no
other process has refreshed already — and one retry, never a loop (wechatpy's own `auto_retry` is unbounded,
so it stays off). WeChat's errcodes surface as the typed exceptions of `store.core.wechat_errors`.

Every call blocks (requests): call it from a worker thread, never from the event loop.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.process.config import Config
from store.core.keys import Keys
from store.core.wechat_errors import TOKEN_ERRCODES, WeChatError, wechat_error

log = logging.getLogger("wxshop.wechat")

REFRESH_MARGIN_S = 300
LOCK_TTL_MS = 15000
WAIT_S = 15.0
NO_MENU = 46003  # menu/get on an account without a custom menu

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


class TokenStore:
    """The access token in Redis, with a cross-process lock so only one process fetches at a time."""

    def __init__(self, client: redis.Redis, keys: Keys, app_id: str, fetch: Callable[[], tuple[str, int]]) -> None:
        self.client = client
        self.token_key = keys.access_token(app_id)
        self.lock_key = keys.access_token_lock(app_id)
        self.fetch = fetch
        self._release = client.register_script(_RELEASE)

    def get(self) -> str:
        token = self.client.get(self.token_key)
        return token.decode() if token else self._refresh(stale=None)

    def replace(self, stale: str) -> str:
        """The token `stale` was refused: fetch a new one, unless another process already did."""
        return self._refresh(stale=stale)

    def _refresh(self, stale: str | None) -> str:
        deadline = time.monotonic() + WAIT_S
        while True:
            current = self.client.get(self.token_key)
            if current and current.decode() != stale:
                return current.decode()
            owner = uuid.uuid4().hex
            if self.client.set(self.lock_key, owner, nx=True, px=LOCK_TTL_MS):
                try:
                    current = self.client.get(self.token_key)
                    if current and current.decode() != stale:
                        return current.decode()
                    token, expires_in = self.fetch()
                    ttl = max(60, expires_in - REFRESH_MARGIN_S)
                    self.client.set(self.token_key, token, ex=ttl)
                    return token
                finally:
                    self._release(keys=[self.lock_key], args=[owner])
            if time.monotonic() > deadline:
                raise WeChatError(None, "timed out waiting for another process to fetch the access token")
            time.sleep(0.02)


class _Client(WeChatClient):
    """wechatpy's client with our base URL, our shared token and our single retry."""

    def __init__(self, base_url: str, appid: str, secret: str, timeout: float, tokens_for: Callable) -> None:
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self.base_url = base_url.rstrip("/")
        self.API_BASE_URL = f"{self.base_url}/cgi-bin/"
        self.tokens: TokenStore = tokens_for(self._fetch_token)

    @property
    def access_token(self) -> str:  # type: ignore[override]
        return self.tokens.get()

    def fetch_access_token(self) -> dict[str, Any]:
        token, expires_in = self._fetch_token()
        return {"access_token": token, "expires_in": expires_in}

    def _fetch_token(self) -> tuple[str, int]:
        try:
            res = self._http.get(
                f"{self.base_url}/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
                timeout=self.timeout,
            )
            res.raise_for_status()
            body = res.json()
        except (requests.RequestException, ValueError) as exc:
            raise WeChatError(None, f"token endpoint unreachable: {exc}") from None
        if body.get("errcode"):
            raise wechat_error(int(body["errcode"]), body.get("errmsg", ""))
        log.info("fetched access token", extra={"expires_in": body.get("expires_in")})
        return body["access_token"], int(body.get("expires_in", 7200))

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        params = dict(kwargs.pop("params", None) or {})
        token = self.access_token
        try:
            return self._once(method, url_or_endpoint, params, token, kwargs)
        except WeChatError as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise
            log.info("access token refused, refetching once", extra={"errcode": exc.errcode})
            return self._once(method, url_or_endpoint, params, self.tokens.replace(token), kwargs)

    def _once(self, method: str, url: str, params: dict, token: str, kwargs: dict[str, Any]) -> Any:
        try:
            return super()._request(method, url, params={**params, "access_token": token}, **dict(kwargs))
        except WeChatClientException as exc:
            raise wechat_error(exc.errcode, str(exc.errmsg or exc)) from None
        except requests.RequestException as exc:
            raise WeChatError(None, f"network: {exc}") from None


class WeChatGateway:
    """What the shop asks of WeChat. Methods block; callers on the event loop go through a thread."""

    def __init__(self, config: Config, client: redis.Redis) -> None:
        keys, app_id = Keys(config.redis.prefix), config.wechat.app_id
        self.client = _Client(
            config.wechat.api_base_url,
            config.wechat.app_id,
            config.wechat.app_secret,
            config.wechat.timeout_s,
            lambda fetch: TokenStore(client, keys, app_id, fetch),
        )

    def access_token(self) -> str:
        return self.client.access_token

    def replace_token(self, stale: str) -> str:
        """`stale` was refused: the shared token after one single-flight refresh (the outbox's async sends)."""
        return self.client.tokens.replace(stale)

    def send_text(self, openid: str, content: str) -> None:
        self.client.message.send_text(openid, content)

    def send_article(self, openid: str, title: str, description: str, url: str, image: str) -> None:
        """Customer-service news: WeChat allows one article (45008 beyond)."""
        article = {"title": title, "description": description, "url": url, "image": image}
        self.client.message.send_articles(openid, [article])

    def send_template(
        self, openid: str, template_id: str, data: dict, url: str | None = None, client_msg_id: str | None = None
    ) -> int:
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            payload["url"] = url
        if client_msg_id:
            payload["client_msg_id"] = client_msg_id
        result = self.client.post("message/template/send", data=payload)
        return int(result.get("msgid", 0))

    def create_menu(self, menu: dict) -> None:
        self.client.menu.create(menu)

    def get_menu(self) -> dict | None:
        """The published menu (`{"button": [...]}`), or None when the account has none (46003)."""
        try:
            answer = self.client.get("menu/get")
        except WeChatError as exc:
            if exc.errcode == NO_MENU:
                return None
            raise
        return answer.get("menu") or None

    def conditional_menus(self) -> list[dict]:
        """The personalised menus WeChat has (`menu/get`'s `conditionalmenu`: button, matchrule, menuid)."""
        try:
            answer = self.client.get("menu/get")
        except WeChatError as exc:
            if exc.errcode == NO_MENU:
                return []
            raise
        return list(answer.get("conditionalmenu") or [])

    def add_conditional_menu(self, menu: dict, tag_id: int) -> str:
        """A personalised menu for the followers carrying `tag_id`; its menuid."""
        answer = self.client.menu.add_conditional({**menu, "matchrule": {"tag_id": str(tag_id)}})
        return str(answer["menuid"])

    def delete_conditional_menu(self, menuid: str) -> None:
        self.client.menu.del_conditional(menuid)

    def try_match_menu(self, openid: str) -> list[dict]:
        """The buttons `openid` sees (WeChat's `menu/trymatch`)."""
        return list(self.client.menu.try_match(openid).get("button") or [])

    # -- user tags (用户标签管理) ---------------------------------------------------------------------------------

    def create_tag(self, name: str) -> int:
        return int(self.client.tag.create(name)["id"])

    def list_tags(self) -> list[dict]:
        """`{"id", "name", "count"}` for every tag of the account."""
        return list(self.client.tag.get())

    def tag_users(self, tag_id: int, openids: list[str]) -> None:
        self.client.tag.tag_user(tag_id, openids)

    def untag_users(self, tag_id: int, openids: list[str]) -> None:
        self.client.tag.untag_user(tag_id, openids)

    def tags_of(self, openid: str) -> list[int]:
        return [int(t) for t in self.client.tag.get_user_tag(openid)]

    def create_qrcode(self, payload: dict) -> dict:
        return self.client.qrcode.create(payload)

    def upload_image(self, data: bytes, filename: str = "poster.png") -> str:
        """A temporary image (media/upload, three days): its media_id."""
        answer = self.client.media.upload("image", (filename, data, "image/png"))
        return str(answer["media_id"])

    def send_image(self, openid: str, media_id: str) -> None:
        self.client.message.send_image(openid, media_id)

    def user_info(self, openid: str) -> dict:
        return self.client.user.get(openid)

    def close(self) -> None:
        self.client._http.close()
