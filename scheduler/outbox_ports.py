"""What the outbox dispatcher needs from WeChat, declared here and implemented in `bot` (bot/wechat/api_async.py):
two asynchronous sends that raise the typed errors of `store.core.wechat_errors`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TemplateSent:
    """A template send WeChat accepted; `duplicate` when it answered 45065 (this client_msg_id went already)."""

    msgid: int | None
    duplicate: bool = False


class NoticeSender(Protocol):
    async def send_text(self, openid: str, content: str) -> None: ...

    async def send_template(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, Mapping[str, str]],
        url: str | None,
        client_msg_id: str,
    ) -> TemplateSent: ...
