"""Console sign-in: sessions in Redis behind an HttpOnly cookie, and their CSRF tokens (the sign-in limit is
bot.admin.login_limit's).

A session is a random token (`secrets.token_urlsafe`) in the cookie; Redis keeps only its SHA-256, so a copy of
Redis holds no usable cookie. The record (user, CSRF token, last request by the injected clock) lives under a
Redis TTL of `[admin] session_ttl_minutes`, renewed by each request (idle timeout); the clock is checked too, so a
test moving a ManualClock sees the session end without waiting. Each user's session ids are kept in a set, so
`wxshop admin disable-user` can end them all at once.

Cookie-authenticated requests that change something must echo the session's CSRF token in `X-CSRF-Token` (the
console's script reads it from `GET /admin/api/session`); the cookie is also `SameSite=Strict`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import redis
import redis.asyncio as aioredis
from aiohttp import web

from bot.process.config import Config
from bot.web.runtime import CONFIG, RESOURCES
from store.core.clock import Clock
from store.core.keys import Keys

COOKIE = "wxshop_admin"
COOKIE_PATH = "/admin"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_TOKEN_CHARS = 128


@dataclass(frozen=True)
class Session:
    key_id: str  # SHA-256 of the cookie's token: the Redis key, never the token itself
    username: str
    csrf: str
    seen: float  # the last request, seconds since the epoch by the app's clock

    def dumps(self) -> str:
        return json.dumps({"user": self.username, "csrf": self.csrf, "seen": self.seen})


def session_key(prefix: str, key_id: str) -> str:
    return Keys(prefix).admin_session(key_id)


def user_sessions_key(prefix: str, username: str) -> str:
    return Keys(prefix).admin_sessions_of(username)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class AdminSessions:
    """Sessions of one deployment (its Redis prefix), on the loop's Redis client."""

    def __init__(self, redis: aioredis.Redis, config: Config, clock: Clock) -> None:
        admin = config.admin
        self.redis = redis
        self.prefix = config.redis.prefix
        self.clock = clock
        self.ttl = timedelta(minutes=admin.session_ttl_minutes)
        self.secure = config.server.public_url.startswith("https://")

    async def open(self, username: str) -> tuple[str, Session]:
        """A new session for `username`: (the cookie's token, the session)."""
        token = secrets.token_urlsafe(32)
        session = Session(_digest(token), username, secrets.token_urlsafe(32), self.clock.now().timestamp())
        ttl_s = int(self.ttl.total_seconds())
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(session_key(self.prefix, session.key_id), session.dumps(), ex=ttl_s)
            pipe.sadd(user_sessions_key(self.prefix, username), session.key_id)
            pipe.expire(user_sessions_key(self.prefix, username), ttl_s)
            await pipe.execute()
        return token, session

    async def find(self, token: str) -> Session | None:
        """The live session of a cookie token, its idle time started again; None when unknown or idle too long."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        key = session_key(self.prefix, _digest(token))
        raw = await self.redis.get(key)
        if raw is None:
            return None
        record = json.loads(raw)
        now = self.clock.now().timestamp()
        if now - float(record["seen"]) > self.ttl.total_seconds():
            await self.redis.delete(key)
            return None
        session = Session(_digest(token), record["user"], record["csrf"], now)
        ttl_s = int(self.ttl.total_seconds())
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key, session.dumps(), ex=ttl_s, xx=True)  # xx: a logout in between is not undone
            pipe.expire(user_sessions_key(self.prefix, session.username), ttl_s)
            await pipe.execute()
        return session

    async def close(self, session: Session) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(session_key(self.prefix, session.key_id))
            pipe.srem(user_sessions_key(self.prefix, session.username), session.key_id)
            await pipe.execute()

    async def end_all(self, username: str) -> int:
        """End every session of `username` (disabled, or their password reset); the number ended."""
        owned = user_sessions_key(self.prefix, username)
        ids = [i.decode() if isinstance(i, bytes) else i for i in await self.redis.smembers(owned)]
        ended = await self.redis.delete(*[session_key(self.prefix, i) for i in ids]) if ids else 0
        await self.redis.delete(owned)
        return int(ended)

    def set_cookie(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(COOKIE, token, path=COOKIE_PATH, httponly=True, samesite="Strict", secure=self.secure)

    def clear_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path=COOKIE_PATH)


SESSIONS = web.AppKey("admin_sessions", AdminSessions)


def setup_sessions(app: web.Application) -> None:
    """Register after `setup_resources`: the sessions use the loop's Redis client it opens."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        resources = app[RESOURCES]
        app[SESSIONS] = AdminSessions(resources.aredis, app[CONFIG], resources.clock)
        yield

    app.cleanup_ctx.append(ctx)


async def request_session(request: web.Request) -> Session | None:
    """The console session the request's cookie names, if it is live."""
    token = request.cookies.get(COOKIE)
    return await request.config_dict[SESSIONS].find(token) if token else None


def csrf_ok(request: web.Request, session: Session, form_value: str | None = None) -> bool:
    """Whether a state-changing request carries its session's CSRF token (header, or a form field)."""
    given = request.headers.get(CSRF_HEADER) or form_value or ""
    return hmac.compare_digest(given.encode(), session.csrf.encode())


def end_user_sessions(client: redis.Redis, prefix: str, username: str) -> int:
    """End every session of `username` (a disabled user); the number ended. For commands, on a sync client."""
    owned = user_sessions_key(prefix, username)
    ids = [i.decode() if isinstance(i, bytes) else i for i in client.smembers(owned)]
    ended = client.delete(*[session_key(prefix, i) for i in ids]) if ids else 0
    client.delete(owned)
    return int(ended)
