"""`GET /c/{notice id}.{signature}`: a campaign message's link. The first tap per member is counted for the
campaign's results; the follower is sent on to the campaign's URL (302). An unsigned or unknown link is a 404."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from functools import partial

from aiohttp import web

from bot.process.config import Config
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from store.outbox.notices import Claimed
from store.profiles.campaign_results import campaign_links, follow_link


def link_secret(config: Config) -> str:
    """The key the links are signed with: derived from the account's secrets, so it needs no setting of its own
    and changes when they do."""
    material = f"wxshop-campaign-links\0{config.wechat.app_secret}\0{config.wechat.token}"
    return hashlib.sha256(material.encode()).hexdigest()


def link_maker(config: Config) -> Callable[[list[Claimed]], Mapping[int, str]]:
    """The outbox dispatcher's `links` (see `scheduler.outbox.LinkMaker`)."""
    return partial(campaign_links, base_url=config.server.public_url, secret=link_secret(config))


def setup_campaign_links(app: web.Application) -> None:
    app.router.add_get("/c/{token}", follow)


async def follow(request: web.Request) -> web.Response:
    config, clock = request.app[CONFIG], request.app[RESOURCES].clock
    target = await run_blocking(request.app, follow_link, request.match_info["token"], link_secret(config), clock.now())
    if target is None:
        return web.Response(status=404, text="链接无效", content_type="text/plain")
    raise web.HTTPFound(target)
