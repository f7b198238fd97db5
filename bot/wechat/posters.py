"""Sending a follower their 裂变海报: their referral code from WeChat (qrcode/create, once per follower), the poster
drawn (`store.members.posters`), uploaded as a temporary image (media/upload) and sent as a customer-service
image message — the follower has just written to the account, so its 48-hour window is open."""

from __future__ import annotations

from datetime import datetime

import redis

from bot.process.config import Config
from bot.wechat.api import WeChatGateway
from dialogs.replies import yuan
from store.catalog.products import product_with_skus
from store.members.posters import PosterContent, referral_code, render_poster
from store.members.qrcodes import image_url

NICKNAME_PLACEHOLDER = "好友"  # WeChat no longer gives nicknames to accounts (WECHAT.md §2.6)


class GatewayPosterSender:
    def __init__(self, config: Config, client: redis.Redis) -> None:
        self.config = config
        self.client = client
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
        self.gateway.send_image(openid, self.gateway.upload_image(png))
