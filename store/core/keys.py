"""Every Redis key the shop writes, named in one place.

Keys live under the deployment's prefix (`[redis] prefix`, e.g. "wxshop:"), parts joined by ":". A key that holds
something of one follower is listed by `personal(openid)`, which unsubscribe deletes (WeChat's rule: a follower who
leaves takes their data with them), so a new per-follower key cannot be forgotten there: add it to `PERSONAL`.
"""

from __future__ import annotations

DIALOG, HUMAN, DEFAULT_REPLY, GREETING, CART, CS_WINDOW = "dialog", "human", "default-reply", "greet", "cart", "cswin"
PERSONAL = (DIALOG, HUMAN, DEFAULT_REPLY, GREETING, CART, CS_WINDOW)
"""Kinds of per-follower keys: the conversation, the human-agent hold, the default reply's last time, the waiting
birthday greeting, the cart, the customer-service window."""


class Keys:
    """Key names in one deployment's namespace; calling it joins any parts (`keys("outbox", "tpl", day)`)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def __repr__(self) -> str:
        return f"Keys({self.prefix!r})"

    # -- one follower's ------------------------------------------------------------------------------------------

    def dialog(self, openid: str) -> str:
        return self(DIALOG, openid)

    def human(self, openid: str) -> str:
        return self(HUMAN, openid)

    def default_reply(self, openid: str) -> str:
        return self(DEFAULT_REPLY, openid)

    def greeting(self, openid: str) -> str:
        return self(GREETING, openid)

    def cart(self, openid: str) -> str:
        return self(CART, openid)

    def cs_window(self, openid: str) -> str:
        return self(CS_WINDOW, openid)

    def personal(self, openid: str) -> tuple[str, ...]:
        """Every key that holds something of this follower."""
        return tuple(self(kind, openid) for kind in PERSONAL)

    # -- the deployment's ----------------------------------------------------------------------------------------

    def dedup(self, message_key: str) -> str:
        return self("dedup", message_key)

    def nonce(self, timestamp: int, nonce: str, signature: str) -> str:
        """A callback's (timestamp, nonce, signature), remembered for the timestamp window (replay protection)."""
        return self("nonce", str(timestamp), nonce, signature)

    def keywords_changed(self) -> str:
        return self("keywords", "changed")

    def catalog_changed(self) -> str:
        return self("catalog", "changed")

    def access_token(self, app_id: str) -> str:
        return self("wechat", app_id, "access_token")

    def access_token_lock(self, app_id: str) -> str:
        return self("wechat", app_id, "access_token", "lock")

    def admin_session(self, key_id: str) -> str:
        return self("admin", "session", key_id)

    def admin_sessions_of(self, username: str) -> str:
        return self("admin", "sessions-of", username)

    def login_attempts(self, by: str, digest: str) -> str:
        """`by` "user" or "addr": the sign-in limit's counters, keyed by a digest (never the name itself)."""
        return self("admin", f"login-{by}", digest)

    def queue(self) -> str:
        return self("queue")

    def cron(self) -> str:
        return self("cron", "")
