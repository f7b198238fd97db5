"""The web chat preview at /sandbox/ (demo mode only): placeholder until the preview page lands."""

from __future__ import annotations

from aiohttp import web

from bot.sandbox.server import Sandbox

SANDBOX = web.AppKey("sandbox", Sandbox)


def setup_preview(app: web.Application, sandbox: Sandbox) -> None:
    app[SANDBOX] = sandbox

    async def index(request: web.Request) -> web.Response:
        return web.Response(text="wxshop sandbox: the chat preview is coming.", content_type="text/plain")

    app.router.add_get("/sandbox/", index)
