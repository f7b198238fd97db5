"""Assembles the dialog engine for a `serve` process and keeps its keyword rules fresh.

The rules are compiled at start-up and recompiled (on the thread pool, off the request path) when a change is
announced on Redis pub/sub, with a periodic version check as the safety net for missed announcements.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot.config import Config
from bot.resources import Resources
from bot.runtime import CONFIG, RESOURCES, run_blocking
from dialogs.answers import PLACEHOLDERS
from dialogs.engine import Engine, EngineSettings
from dialogs.flows import birthday
from dialogs.replies import ReplyRenderer
from dialogs.rules_cache import RulesCache, channel
from dialogs.state import DialogStore
from store.followers import set_birthday

log = logging.getLogger("wxshop.conversation")

ENGINE = web.AppKey("engine", Engine)
RULES = web.AppKey("rules", RulesCache)
VERSION_CHECK_S = 5.0


def build_engine(config: Config, resources: Resources, rules: RulesCache) -> Engine:
    clock = resources.clock
    flows = {
        "birthday": birthday.build(lambda openid, month, day: set_birthday(openid, month, day, clock.now())[1]),
    }
    return Engine(
        clock=clock,
        store=DialogStore(resources.redis, config.redis.prefix, config.shop.dialog_ttl_minutes * 60),
        rules=rules,
        renderer=ReplyRenderer(config.server.public_url),
        flows=flows,
        answers=PLACEHOLDERS,
        settings=EngineSettings(
            default_reply_interval_s=config.shop.default_reply_interval_minutes * 60, shop_name=config.shop.name
        ),
    )


def setup_conversation(app: web.Application) -> None:
    app.cleanup_ctx.append(_conversation_ctx)


async def _conversation_ctx(app: web.Application) -> AsyncIterator[None]:
    config, resources = app[CONFIG], app[RESOURCES]
    rules = RulesCache()
    await run_blocking(app, rules.refresh)
    app[RULES] = rules
    app[ENGINE] = build_engine(config, resources, rules)
    watcher = asyncio.create_task(_watch(app, rules))
    yield
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher


async def _watch(app: web.Application, rules: RulesCache) -> None:
    """Reload on announcements; check the version every few seconds in case one was missed."""
    resources = app[RESOURCES]
    while True:
        try:
            async with resources.aredis.pubsub() as pubsub:
                await pubsub.subscribe(channel(app[CONFIG].redis.prefix))
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=VERSION_CHECK_S)
                    await run_blocking(app, rules.refresh)
                    if message is not None:
                        log.debug("rules change announced", extra={"version": message.get("data")})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis or the database away for a moment: keep serving the rules we have
            log.warning("rules watcher error, retrying", extra={"error": str(exc)})
            await asyncio.sleep(VERSION_CHECK_S)
