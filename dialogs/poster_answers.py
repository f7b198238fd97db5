"""裂变海报 in chat: "生成海报" makes the follower's share poster — of the product just shown, else of the shop —
with their own referral QR code, and sends it as an image message. Making and sending it needs WeChat
(qrcode/create, media/upload, the customer-service API): `bot` hands in a `PosterSender`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from dialogs.flows import Turn
from dialogs.intents import Intent
from dialogs.recent import live
from dialogs.replies import ReplyLike
from store.core.wechat_errors import WeChatError

SENT = "您的专属海报已发送～长按图片保存，分享给好友；好友扫码关注后就是您邀请的新朋友啦。"
FAILED = "海报暂时没能生成，请稍后再试一次。"


class PosterSender(Protocol):
    def send_poster(self, openid: str, product_id: int | None, now: datetime) -> None:
        """Make the follower's poster (of `product_id`, or of the shop) and send it to them; raises WeChatError."""


def make_poster_answers(sender: PosterSender) -> dict[str, Callable[[Turn, Intent], ReplyLike]]:
    def make(turn: Turn, intent: Intent) -> ReplyLike:
        product = None if "店" in turn.text else live(turn.recent, turn.now).get("product")
        try:
            sender.send_poster(turn.openid, int(product) if product is not None else None, turn.now)
        except WeChatError:
            return FAILED
        return SENT

    return {"make_poster": make}
