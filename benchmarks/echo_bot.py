"""The baseline for the inbound benchmark: a bare WeRoBot echo bot behind a thin aiohttp adapter (signature,
parse, reply; encrypted in safe mode), with no session, no dedup and no database."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web
from werobot import WeRoBot


def make_app(token: str, app_id: str, aes_key: str, path: str) -> web.Application:
    logging.getLogger("WeRoBot").setLevel(logging.ERROR)
    robot = WeRoBot(token=token, SESSION_STORAGE=False, app_id=app_id, encoding_aes_key=aes_key or None)

    @robot.text
    def echo(message):
        return message.content

    async def view(request: web.Request) -> web.Response:
        q = request.query
        if not robot.check_signature(q.get("timestamp", ""), q.get("nonce", ""), q.get("signature", "")):
            return web.Response(status=403)
        body = await request.read()
        message = robot.parse_message(body, q.get("timestamp"), q.get("nonce"), q.get("msg_signature"))
        return web.Response(text=robot.get_encrypted_reply(message), content_type="application/xml")

    app = web.Application()
    app.router.add_post(path, view)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--aes-key", default="")
    parser.add_argument("--path", default="/wechat")
    args = parser.parse_args()
    app = make_app(args.token, args.app_id, args.aes_key, args.path)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
