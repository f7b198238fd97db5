"""Global access tokens as WeChat issues them: /cgi-bin/token (classic) and /cgi-bin/stable_token.

Classic tokens (WECHAT.md §2.1): each fetch issues a new token valid 7200 s; the previous one keeps working for
5 minutes, then answers 40001; 2000 fetches per Asia/Shanghai day, then 45009. Stable tokens are isolated from
classic ones: the normal mode returns the current token while it has more than 5 minutes left (so every
`expires_in` ≥ 300) and otherwise issues a new one, the old staying valid until its own expiry; `force_refresh`
issues a new one and invalidates the previous at once, at most 20 times a day (45009) and never within 30 s of
the last forced refresh (WeChat then returns the current token unchanged).

Wrong credentials: appid → 40013, secret → 40125 ``invalid appsecret`` (what WeChat returns today; very old docs
said 40001). Expired → 42001. Unknown or superseded → 40001.
"""

from __future__ import annotations

import random
import string
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from bot.sandbox.mp_errors import MpError
from store.core.clock import SHANGHAI, Clock

TOKEN_TTL = timedelta(seconds=7200)
GRACE = timedelta(minutes=5)
STABLE_REFRESH_AHEAD = timedelta(minutes=5)
FORCE_REFRESH_GAP = timedelta(seconds=30)
_ALPHABET = string.ascii_letters + string.digits + "_-"


@dataclass
class Token:
    value: str
    kind: Literal["classic", "stable"]
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def expires_in(self, now: datetime) -> int:
        return max(0, int((self.expires_at - now).total_seconds()))


class TokenIssuer:
    """Issues and checks global access tokens for one app; thread-safe."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        clock: Clock,
        rng: random.Random,
        *,
        daily_quota: int = 2000,
        stable_force_daily_quota: int = 20,
    ) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._clock = clock
        self._rng = rng
        self._daily_quota = daily_quota
        self._stable_force_quota = stable_force_daily_quota
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}
        self._classic: Token | None = None
        self._stable: Token | None = None
        self._last_forced: datetime | None = None
        self._per_day: dict[tuple[str, date], int] = {}
        self.fetch_count = 0
        self.stable_fetch_count = 0

    def issue_classic(self, grant_type: str | None, appid: str | None, secret: str | None) -> Token:
        """GET /cgi-bin/token: a new token every time, the previous one lives 5 more minutes."""
        self._check_credentials(grant_type, appid, secret)
        now = self._clock.now()
        with self._lock:
            self._take_quota("classic", now, self._daily_quota)
            previous = self._classic
            token = self._new_token("classic", now)
            if previous is not None and previous.revoked_at is None:
                previous.revoked_at = now + GRACE
            self._classic = token
            self.fetch_count += 1
            return token

    def issue_stable(self, grant_type: str | None, appid: str | None, secret: str | None, force: bool) -> Token:
        """POST /cgi-bin/stable_token: the current stable token unless it is about to expire or forced."""
        self._check_credentials(grant_type, appid, secret)
        now = self._clock.now()
        with self._lock:
            current = self._stable
            usable = current is not None and current.revoked_at is None and current.expires_at > now
            if force:
                recently = self._last_forced is not None and now - self._last_forced < FORCE_REFRESH_GAP
                if current is not None and usable and recently:
                    return current
                self._take_quota("stable_force", now, self._stable_force_quota)
                self._last_forced = now
                if current is not None and current.revoked_at is None:
                    current.revoked_at = now
            elif usable and current is not None and current.expires_at - now > STABLE_REFRESH_AHEAD:
                return current
            token = self._new_token("stable", now)
            self._stable = token
            self.stable_fetch_count += 1
            return token

    def check(self, value: str | None) -> None:
        """Raise the errcode WeChat gives for a missing, unknown, superseded or expired token."""
        if not value:
            raise MpError(41001)
        now = self._clock.now()
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            raise MpError(40001)
        revoked = token.revoked_at is not None and token.revoked_at < token.expires_at
        if revoked and token.revoked_at is not None and now >= token.revoked_at:
            raise MpError(40001)
        if now >= token.expires_at:
            raise MpError(42001)

    def _check_credentials(self, grant_type: str | None, appid: str | None, secret: str | None) -> None:
        if not appid:
            raise MpError(41002)
        if appid != self._app_id:
            raise MpError(40013)
        if not secret:
            raise MpError(41004)
        if secret != self._app_secret:
            raise MpError(40125)
        if grant_type != "client_credential":
            raise MpError(40002)

    def _take_quota(self, name: str, now: datetime, quota: int) -> None:
        key = (name, now.astimezone(SHANGHAI).date())
        used = self._per_day.get(key, 0)
        if used >= quota:
            raise MpError(45009)
        self._per_day[key] = used + 1

    def _new_token(self, kind: Literal["classic", "stable"], now: datetime) -> Token:
        self._prune(now)
        value = "".join(self._rng.choices(_ALPHABET, k=136))
        token = Token(value, kind, now, now + TOKEN_TTL)
        self._tokens[value] = token
        return token

    def _prune(self, now: datetime) -> None:
        """Forget tokens a day past expiry so a long benchmark does not grow memory (they answer 40001 then)."""
        horizon = now - timedelta(days=1)
        for value in [v for v, t in self._tokens.items() if t.expires_at < horizon]:
            del self._tokens[value]
