"""WeChat's errcodes as typed exceptions, shared by every layer that talks to WeChat through the gateway.

They live in `store` (the bottom layer) so handlers and scheduler jobs can catch them without importing `bot`.
"""

from __future__ import annotations


class WeChatError(Exception):
    """WeChat answered with a non-zero errcode (or not at all: errcode None)."""

    errcode: int | None

    def __init__(self, errcode: int | None, errmsg: str = "") -> None:
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def retryable(self) -> bool:
        """Transient failures (system busy, network) may be retried later; the rest mean what they say."""
        return self.errcode in (None, -1)


class OutcomeUnknown(WeChatError):
    """The request may have reached WeChat, but no answer came back (a timeout, a broken connection, an HTTP
    error page): the message may or may not have gone."""

    def __init__(self, errmsg: str) -> None:
        super().__init__(None, errmsg)


class TokenInvalid(WeChatError):
    """40001 / 40014 / 42001: the access token was replaced or expired."""


class NotFollowing(WeChatError):
    """43004: the openid does not follow the account."""


class InvalidOpenid(WeChatError):
    """40003: the openid is not one of this account's followers."""


class OutOfWindow(WeChatError):
    """45015: no open customer-service window (or the follower left)."""


class OutOfResponseCount(WeChatError):
    """45047: the customer-service window is used up."""


class QuotaExceeded(WeChatError):
    """45009: a daily API quota is spent."""


class DuplicateMessage(WeChatError):
    """45065: this client_msg_id was sent already."""


TOKEN_ERRCODES = frozenset({40001, 40014, 42001})

_BY_CODE: dict[int, type[WeChatError]] = {
    40001: TokenInvalid,
    40014: TokenInvalid,
    42001: TokenInvalid,
    43004: NotFollowing,
    40003: InvalidOpenid,
    45015: OutOfWindow,
    45047: OutOfResponseCount,
    45009: QuotaExceeded,
    45065: DuplicateMessage,
}


def wechat_error(errcode: int | None, errmsg: str = "") -> WeChatError:
    return _BY_CODE.get(errcode, WeChatError)(errcode, errmsg) if errcode is not None else WeChatError(None, errmsg)
