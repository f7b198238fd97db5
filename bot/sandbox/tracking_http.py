"""HTTP endpoints of the express-tracking emulator: Kuaidi100's form APIs and two sandbox controls.

`/sandbox/tracking/...` lets the demo's operator (or the follower simulator) pick a parcel's scenario and
push its next state without waiting for the clock; the real service has no such thing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from bot.sandbox.tracking import Answer, TrackingEmulator


def _json(answer: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(answer, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def add_routes(router: web.UrlDispatcher, tracker: TrackingEmulator) -> None:
    router.add_post("/poll", _form_api(tracker, "poll", tracker.subscribe))
    router.add_post("/poll/query.do", _form_api(tracker, "query", tracker.query))

    async def advance(request: web.Request) -> web.Response:
        data = await request.json()
        try:
            delivery = await tracker.advance(str(data.get("number", "")), data.get("company"))
        except LookupError as exc:
            return _json({"error": str(exc)}, status=404)
        if delivery is None:
            return _json({"pushed": False})
        attempt = delivery.attempts[-1]
        return _json({"pushed": True, "acknowledged": attempt.ok, "reply": attempt.reply, "error": attempt.error})

    async def scenario(request: web.Request) -> web.Response:
        data = await request.json()
        try:
            tracker.set_scenario(str(data.get("company", "")), str(data.get("number", "")),
                                 str(data.get("scenario", "")))
        except ValueError as exc:
            return _json({"error": str(exc)}, status=400)
        return _json({"ok": True})

    router.add_post("/sandbox/tracking/advance", advance)
    router.add_post("/sandbox/tracking/scenario", scenario)


def _form_api(tracker: TrackingEmulator, name: str,
              operation: Callable[[dict[str, str]], Answer]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Kuaidi100's envelope: a urlencoded form in, a JSON answer out; injected faults served first."""

    async def handle(request: web.Request) -> web.Response:
        await tracker.faults.delay(name)
        fault = tracker.faults.take(name)
        if fault is not None and fault.http_status is not None:
            return web.Response(status=fault.http_status, text=fault.message)
        if fault is not None:
            return _json({"result": False, "returnCode": fault.code, "message": fault.message})
        form = await request.post()
        return _json(operation({k: v for k, v in form.items() if isinstance(v, str)}))

    return handle
