"""Sending a follower their 裂变海报: their referral code from WeChat (qrcode/create, once per follower), the poster
drawn (`store.members.posters`), uploaded as a temporary image (media/upload) and sent as a customer-service
image message. Like every customer-service send outside the outbox it first takes one message from the
follower's window (`store.outbox.windows`; the follower's own message just opened it); without one nothing is
sent and the follower is told to try again. When Redis cannot answer the window is unknown, not closed, and the
image goes unchecked, as `bot.wechat.customer_service` does."""

from __future__ import annotations

import logging
from datetime import datetime

import redis

from bot.process.config import Config
from bot.wechat.api import WeChatGateway
from dialogs.replies import yuan
from store.catalog.products import product_with_skus
from store.core.wechat_errors import OutOfResponseCount, OutOfWindow
from store.members.posters import PosterContent, referral_code, render_poster
from store.members.qrcodes import image_url
from store.outbox.windows import GRANTED, CsWindows

log = logging.getLogger("wxshop.posters")
NICKNAME_PLACEHOLDER = "好友"  # WeChat no longer gives nicknames to accounts (WECHAT.md §2.6)


class GatewayPosterSender:
    def __init__(self, config: Config, client: redis.Redis, windows: CsWindows) -> None:
        self.config = config
        self.client = client
        self.windows = windows
        self._gateway: WeChatGateway | None = None

    @property
    def gateway(self) -> WeChatGateway:
        if self._gateway is None:
            self._gateway = WeChatGateway(self.config, self.client)
        return self._gateway

    def content(self, openid: str, product_id: int | None, qr_url: str) -> PosterContent:
        shop = self.config.shop.name
        view = product_with_skus(product_id) if product_id is not None else None
        if view is None or view.price_range is None:
            return PosterContent(shop, f"{shop}，好物每天上新，一起来逛逛", "", NICKNAME_PLACEHOLDER, qr_url)
        return PosterContent(shop, view.product.title, f"¥{yuan(view.price_range[0])}", NICKNAME_PLACEHOLDER, qr_url)

    def send_poster(self, openid: str, product_id: int | None, now: datetime) -> None:
        code = referral_code(openid, self.gateway.create_qrcode, now)
        png = render_poster(self.content(openid, product_id, code.url or image_url(code.ticket)))
        media_id = self.gateway.upload_image(png)
        self._take_window(openid, now)
        try:
            self.gateway.send_image(openid, media_id)
        except (OutOfWindow, OutOfResponseCount):
            self.windows.spend(openid)  # WeChat knows better: no more until the follower's next message
            raise

    def _take_window(self, openid: str, now: datetime) -> None:
        try:
            verdict = self.windows.consume(openid, now)
        except redis.RedisError as exc:
            log.warning("window unknown, sending the poster unchecked", extra={"openid": openid, "error": repr(exc)})
            return
        if verdict not in GRANTED:
            raise OutOfResponseCount(45047, f"no customer-service message left ({verdict})")
