"""The console's sign-in limit: a password is checked only after its attempt holds a slot, per username and per
client address.

Each attempt first reserves a slot in two Redis counters at once (one Lua script, so concurrent attempts cannot
all pass a check made before any of them is counted): the username's, limited to `[admin] login_max_failures`,
and the client address's, limited to `login_max_failures_per_address` across every username. When either is
full the attempt is refused before any hashing. A counter's window starts with its first slot and ends
`login_window_minutes` later (a Redis TTL, not extended by later attempts). A failed attempt keeps its slots; a
successful one empties the username's counter and gives its address slot back, so signing in costs nothing.
The client address is the peer, or the X-Forwarded-For hop behind `[admin] trusted_proxies` (bot.web.forwarded).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta

import redis.asyncio as aioredis
from aiohttp import web

from bot.process.config import Config
from bot.web.forwarded import Network, client_address, parse_networks
from bot.web.runtime import CONFIG, RESOURCES
from store.core.keys import Keys

# KEYS: the username's counter, the address's; ARGV: their limits, the window in seconds. 1 = reserved.
RESERVE = """
for i = 1, 2 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[i]) then return 0 end
end
for i = 1, 2 do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ARGV[3]) end
end
return 1
"""
# KEYS: the same two counters. The address slot is given back only while its window lasts (DECR keeps the TTL).
SUCCEEDED = """
redis.call('DEL', KEYS[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 1
"""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class LoginLimit:
    """The two counters of one deployment (its Redis prefix), on the loop's Redis client."""

    def __init__(self, redis: aioredis.Redis, config: Config) -> None:
        admin = config.admin
        self.prefix = config.redis.prefix
        self.per_user = admin.login_max_failures
        self.per_address = admin.login_max_failures_per_address
        self.window = timedelta(minutes=admin.login_window_minutes)
        self.trusted: tuple[Network, ...] = parse_networks(admin.trusted_proxies)
        self._reserve = redis.register_script(RESERVE)
        self._succeeded = redis.register_script(SUCCEEDED)

    def client(self, request: web.Request) -> str:
        """The address the attempt is counted against."""
        return client_address(request.remote or "", request.headers.getall("X-Forwarded-For", []), self.trusted)

    def _keys(self, username: str, address: str) -> list[str]:
        keys = Keys(self.prefix)
        return [keys.login_attempts("user", _digest(username)), keys.login_attempts("addr", _digest(address))]

    async def reserve(self, username: str, address: str) -> bool:
        """Take a slot for one attempt; False (and nothing counted) when the username or the address is full."""
        window_s = int(self.window.total_seconds())
        limits = [self.per_user, self.per_address, window_s]
        return bool(await self._reserve(keys=self._keys(username, address), args=limits))

    async def succeeded(self, username: str, address: str) -> None:
        """The username starts afresh and the address gets its slot back: only failures stay counted."""
        await self._succeeded(keys=self._keys(username, address))


LOGIN_LIMIT = web.AppKey("admin_login_limit", LoginLimit)


def setup_login_limit(app: web.Application) -> None:
    """Register after `setup_resources`: the limit uses the loop's Redis client it opens."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        app[LOGIN_LIMIT] = LoginLimit(app[RESOURCES].aredis, app[CONFIG])
        yield

    app.cleanup_ctx.append(ctx)
