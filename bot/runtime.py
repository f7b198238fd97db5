"""The app's typed keys and the bridge from the event loop to the thread pool, shared by every `setup_*`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

from bot.config import Config
from bot.resources import Resources

CONFIG = web.AppKey("config", Config)
CLOCK = web.AppKey("clock", object)
RESOURCES = web.AppKey("resources", Resources)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)

T = TypeVar("T")


async def run_blocking(app: web.Application, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run synchronous domain code (peewee, WeRoBot handlers, wechatpy) on the bounded pool, off the loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(app[EXECUTOR], partial(fn, *args, **kwargs))
