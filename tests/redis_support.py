"""A real redis-server a test can stop and start again on the same port: outages, not stand-ins."""

from __future__ import annotations

from bot.sandbox.redis_server import RedisServer

RedisProcess = RedisServer
