"""`wxshop chat` through a running demo's chat preview (/sandbox/api): the sandbox World sees the follower, the
browser preview shows the same conversation, and the terminal shows what the preview shows, in its order."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.cli.chat import HELP, MODE_NAMES, PROBE_TIMEOUT_S, Unreachable, nothing_shown, reason, render

if TYPE_CHECKING:
    import aiohttp

SETTLE_S = 0.5
SETTLE_LIMIT_S = 15.0
RECONNECT_S = 1.0


class PreviewTalker:
    """Through a running demo's /sandbox/api: the World and the browser preview see the same follower.

    What the follower sees comes from the preview's event stream, in the preview's order: the passive reply,
    the follow-ups the shop sends right after it, and notices the worker sends while nobody is typing. After
    each message the chat waits until the stream has shown the reply and then stayed quiet for `SETTLE_S`, so a
    scripted session reads in the order the preview shows it.
    """

    def __init__(
        self, session: aiohttp.ClientSession, base: str, openid: str, mode: str | None, state: dict[str, Any]
    ) -> None:
        self.session = session
        self.base = base
        self.openid = openid
        self.mode = mode
        self.shop = str(state["shop"].get("name", "公众号"))
        self.server_mode = str(state["shop"].get("mode", "plain"))
        self.menu = state.get("menu") or []
        self.subscribed = False
        self.shown = 0  # the last entry id printed
        self.show: Callable[[list[str]], None] = lambda lines: None
        self._arrived = asyncio.Event()
        self._connected = asyncio.Event()
        self._stream: asyncio.Task[None] | None = None

    async def start(self) -> None:
        status, body = await self._call("POST", "followers", {"openid": self.openid})
        if status >= 400:
            raise Unreachable(f"the chat preview refused {self.openid}: {body.get('error', status)}")
        self.subscribed = bool(body["follower"]["subscribed"])
        _, state = await self._call("GET", f"state?openid={self.openid}")
        self.shown = max((e["id"] for e in state.get("history") or []), default=0)
        self._stream = asyncio.create_task(self._follow())
        try:
            await asyncio.wait_for(self._connected.wait(), PROBE_TIMEOUT_S)
        except TimeoutError:
            raise Unreachable(f"the chat preview at {self.base} sent no event stream") from None

    def banner(self) -> str:
        mode = MODE_NAMES.get(self.mode or self.server_mode, self.mode or self.server_mode)
        lines = [
            f"wxshop chat：{self.shop}（沙箱预览 {self.base}/sandbox/，{mode}）",
            f"粉丝 {self.openid}" + ("" if self.subscribed else "（未关注：输入 /follow 关注公众号）"),
            HELP,
        ]
        return "\n".join(lines)

    async def send(self, kind: str, **fields: Any) -> list[str]:
        payload = {"openid": self.openid, "kind": kind, **{k: v for k, v in fields.items() if v is not None}}
        if self.mode:
            payload["mode"] = self.mode
        status, body = await self._call("POST", "send", payload)
        if status >= 400:
            return [f"（{body.get('error') or f'HTTP {status}'}）"]
        entries = body["entries"]
        await self._settle(max((e["id"] for e in entries), default=self.shown))
        seen_something = any(e.get("from") != "follower" for e in entries)
        return [] if seen_something else nothing_shown(kind)

    async def _settle(self, reply_id: int) -> None:
        """Wait until the stream has shown `reply_id`, then until nothing more arrives for `SETTLE_S`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_LIMIT_S
        while self.shown < reply_id and loop.time() < deadline:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), max(0.0, deadline - loop.time()))
        if self.shown < reply_id:  # the stream is gone: read what is missing once
            _, state = await self._call("GET", f"state?openid={self.openid}&after={self.shown}")
            self._print(state.get("history") or [])
        while loop.time() < deadline:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(SETTLE_S, max(0.0, deadline - loop.time())))
            except TimeoutError:
                return

    def _print(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            if entry.get("id", 0) <= self.shown:
                continue
            self.shown = entry["id"]
            lines = render(entry, self.shop)
            if lines:
                self.show(lines)
            self._arrived.set()

    async def _follow(self) -> None:
        """Read the preview's event stream for this follower, reconnecting after the last entry shown."""
        import aiohttp

        while True:
            url = f"{self.base}/sandbox/api/events?openid={self.openid}&after={self.shown}"
            try:
                async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=60)) as stream:
                    self._connected.set()
                    async for raw in stream.content:
                        line = raw.decode("utf-8", "replace").rstrip("\r\n")
                        if line.startswith("data:"):
                            self._print([json.loads(line[5:])])
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            await asyncio.sleep(RECONNECT_S)

    async def _call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        import aiohttp

        try:
            async with self.session.request(method, f"{self.base}/sandbox/api/{path}", json=body) as response:
                try:
                    data = await response.json(content_type=None)
                except ValueError:
                    data = {}
                return response.status, data if isinstance(data, dict) else {}
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(f"cannot reach the server at {self.base}: {reason(exc)}") from None

    async def close(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stream
        await self.session.close()
