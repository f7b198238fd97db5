"""`wxshop chat`: be a follower from the terminal, against a running server.

When the server is a running demo (its chat preview answers at /sandbox/api/state) the chat goes through the
preview's API, so the sandbox World sees the follower (customer-service windows open, the browser preview shows
the same conversation) and customer-service and template messages are printed as they arrive. Otherwise the
follower simulator talks to `[server] public_url` + `wechat_path` directly, signed (and encrypted in AES modes)
as WeChat does. Input is read line by line, so it works as well piped as typed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from bot.process.config import Config

if TYPE_CHECKING:
    import aiohttp

    from bot.sandbox.follower import FollowerSimulator

READABLE = "abcdefghjkmnpqrstuvwxyz23456789"
PROBE_TIMEOUT_S = 3.0
HELP = "命令：/follow [场景]  /unfollow  /click KEY  /menu  /help  /quit；其他输入作为文字消息发送"
PROMPT = "你> "
MODE_NAMES = {"plain": "明文模式", "compatible": "兼容模式", "safe": "安全模式"}


class Unreachable(Exception):
    """The server cannot be reached: one line, non-zero exit."""


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    """Add `wxshop chat` to the top-level subparsers."""
    helptext = "chat with a running server as a follower (the follower simulator in a terminal)"
    chat = sub.add_parser("chat", help=helptext, description=helptext)
    common(chat, False)
    chat.add_argument("--openid", metavar="OPENID", help="the follower's openid (default: a new o_chat_xxxx)")
    chat.add_argument(
        "--mode",
        choices=list(MODE_NAMES),
        help="message encryption (default: [wechat] mode when encoding_aes_key is set, else plain)",
    )
    chat.set_defaults(run=_run)


def _run(args: argparse.Namespace, config: Config) -> int:
    openid = args.openid or "o_chat_" + "".join(secrets.choice(READABLE) for _ in range(4))
    if args.mode not in (None, "plain") and not config.wechat.encoding_aes_key:
        print(f"wxshop: --mode {args.mode} needs [wechat] encoding_aes_key", file=sys.stderr)
        return 2
    return run_chat(config, openid, args.mode, sys.stdin, sys.stdout)


def run_chat(config: Config, openid: str, mode: str | None, lines: TextIO, out: TextIO) -> int:
    """Read commands from `lines` until EOF or /quit, printing what the follower sees to `out`."""
    try:
        return asyncio.run(_chat(config, openid, mode, lines, out))
    except Unreachable as exc:
        print(f"wxshop: {exc}", file=sys.stderr)
        return 1


async def _chat(config: Config, openid: str, mode: str | None, lines: TextIO, out: TextIO) -> int:
    talker = await _connect(config, openid, mode)
    screen = _Screen(out, lines.isatty())
    talker.show = screen.show
    try:
        screen.show([talker.banner()])
        while True:
            line = await screen.read(lines)
            if not line:
                return 0
            command = line.strip()
            if not command:
                continue
            screen.echo(command)
            if command in ("/quit", "/exit"):
                return 0
            screen.show(await _dispatch(talker, command))
    finally:
        await talker.close()


class _Screen:
    """The terminal: what the shop says may arrive while the follower is typing (a notice from the worker), so
    it is printed on its own lines and the prompt shown again. Piped input is echoed as `你> …`, so a scripted
    session reads as a conversation."""

    def __init__(self, out: TextIO, interactive: bool) -> None:
        self.out = out
        self.interactive = interactive
        self.prompting = False

    def show(self, lines: list[str]) -> None:
        if not lines:
            return
        if self.prompting:
            print(file=self.out)
        print("\n".join(lines), file=self.out, flush=True)
        if self.prompting:
            print(PROMPT, end="", file=self.out, flush=True)

    def echo(self, command: str) -> None:
        if not self.interactive:
            print(PROMPT + command, file=self.out, flush=True)

    async def read(self, lines: TextIO) -> str:
        """The next line ("" at EOF). Read on a daemon thread: Ctrl-C must not wait for a blocked readline."""
        if self.interactive:
            print(PROMPT, end="", file=self.out, flush=True)
            self.prompting = True
        loop = asyncio.get_running_loop()
        line: asyncio.Future[str] = loop.create_future()

        def readline() -> None:
            try:
                got = lines.readline()
            except (OSError, ValueError):
                got = ""
            with contextlib.suppress(RuntimeError):  # the chat ended while the thread waited
                loop.call_soon_threadsafe(lambda: line.done() or line.set_result(got))

        threading.Thread(target=readline, name="chat-stdin", daemon=True).start()
        try:
            return await line
        finally:
            self.prompting = False


async def _dispatch(talker: _Talker, command: str) -> list[str]:
    from bot.sandbox.preview import MAX_TEXT

    if not command.startswith("/"):
        if len(command) > MAX_TEXT:
            return [f"（没有发出：一条文字消息最多 {MAX_TEXT} 个字，这条有 {len(command)} 个字）"]
        return await talker.send("text", text=command)
    name, _, rest = command.partition(" ")
    rest = rest.strip()
    if name == "/follow":
        return await talker.send("follow", scene=rest or None)
    if name == "/unfollow":
        return await talker.send("unfollow")
    if name == "/click":
        return await talker.send("click", key=rest) if rest else ["用法：/click KEY（/menu 列出菜单的 KEY）"]
    if name == "/menu":
        return menu_lines(talker.menu)
    if name == "/help":
        return [HELP]
    return [f"未知命令 {name}；{HELP}"]


def menu_lines(menu: Any) -> list[str]:
    """The custom menu as `name → type KEY` lines, sub-buttons indented."""
    if not menu:
        return ["（公众号没有自定义菜单）"]
    shown: list[str] = []
    for button in menu:
        subs = button.get("sub_button") or []
        shown.append(str(button.get("name", "")) + ("" if subs else f" → {_target(button)}"))
        shown += [f"  {sub.get('name', '')} → {_target(sub)}" for sub in subs]
    return shown


def _target(button: Mapping[str, Any]) -> str:
    kind = button.get("type", "")
    return f"{kind} {button.get('key') or button.get('url') or ''}".strip()


def render(entry: Mapping[str, Any], shop: str) -> list[str]:
    """One transcript entry as terminal lines (the follower's own entries are not echoed)."""
    if entry.get("from") == "follower":
        return []
    if entry.get("from") == "system":
        why = f"（{entry['error']}）" if entry.get("error") else ""
        return [f"（{entry.get('text', '')}{why}）"]
    tag = {"custom": "[客服消息] ", "template": "[模板消息] "}.get(str(entry.get("channel")), "")
    kind = entry.get("kind")
    if kind == "news":
        out: list[str] = []
        for article in entry.get("articles") or []:
            out.append(f"{shop}> {tag}[图文] {article.get('title', '')}")
            out += [f"    {line}" for line in str(article.get("description") or "").splitlines() if line.strip()]
            if article.get("url"):
                out.append(f"    链接：{article['url']}")
        return out
    if kind == "template":
        out = [f"{shop}> {tag}{entry.get('title', '服务通知')}"]
        out += [f"    {field['key']}：{field['value']}" for field in entry.get("fields") or []]
        if entry.get("url"):
            out.append(f"    详情：{entry['url']}")
        return out
    text = str(entry.get("text", ""))
    first, *more = text.split("\n")
    return [f"{shop}> {tag}{first}", *(f"    {line}" for line in more)]


class _Talker(Protocol):
    """What the chat loop needs from either way of reaching the shop."""

    menu: Any
    show: Callable[[list[str]], None]  # prints what arrives on its own (the preview's live messages)

    def banner(self) -> str: ...

    async def send(self, kind: str, **fields: Any) -> list[str]:
        """Act as the follower; the lines to print."""
        ...

    async def close(self) -> None: ...


def nothing_shown(kind: str) -> list[str]:
    return ["（已取消关注）"] if kind == "unfollow" else ["（公众号没有回复）"]


async def _connect(config: Config, openid: str, mode: str | None) -> _Talker:
    import aiohttp

    base = config.server.public_url.rstrip("/")
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    try:
        try:
            async with session.get(
                f"{base}/sandbox/api/state", timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
            ) as response:
                state = await response.json() if response.status == 200 else None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unreachable(f"cannot reach the server at {base}: {reason(exc)}") from None
        except ValueError:
            state = None
        if isinstance(state, dict) and "shop" in state:
            from bot.cli.chat_preview import PreviewTalker

            preview = PreviewTalker(session, base, openid, mode, state)
            await preview.start()
            return preview
        return _DirectTalker(session, config, openid, mode or _default_mode(config))
    except BaseException:
        await session.close()
        raise


def _default_mode(config: Config) -> str:
    return config.wechat.mode if config.wechat.encoding_aes_key else "plain"


def reason(exc: BaseException) -> str:
    """A short cause: "Connection refused" rather than aiohttp's full repr."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    os_error = getattr(exc, "os_error", None)
    if isinstance(os_error, OSError) and os_error.strerror:
        return os_error.strerror
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _DirectTalker:
    """The follower simulator against the callback URL: what WeChat itself would send."""

    def __init__(self, session: aiohttp.ClientSession, config: Config, openid: str, mode: str) -> None:
        from bot.sandbox.follower import Account, FollowerSimulator
        from store.core.clock import process_clock

        self.session = session
        self.openid = openid
        self.mode = mode
        self.shop = config.shop.name
        self.menu = list(config.menu)
        self.url = config.server.public_url.rstrip("/") + config.server.wechat_path
        account = Account(
            token=config.wechat.token,
            app_id=config.wechat.app_id,
            original_id=config.wechat.original_id,
            encoding_aes_key=config.wechat.encoding_aes_key,
            mode=mode,  # type: ignore[arg-type]
        )
        self.simulator: FollowerSimulator = FollowerSimulator(self.url, account, session, process_clock())
        self.show: Callable[[list[str]], None] = lambda lines: None

    def banner(self) -> str:
        mode = MODE_NAMES.get(self.mode, self.mode)
        return "\n".join([f"wxshop chat：{self.shop}（{self.url}，{mode}）", f"粉丝 {self.openid}", HELP])

    async def send(self, kind: str, **fields: Any) -> list[str]:
        from bot.sandbox.preview_entries import reply_entries

        sim, openid = self.simulator, self.openid
        if kind == "text":
            delivery = await sim.send_text(openid, fields["text"])
        elif kind == "click":
            delivery = await sim.click(openid, fields["key"])
        elif kind == "follow":
            delivery = await sim.follow(openid, fields.get("scene"))
        else:
            delivery = await sim.unfollow(openid)
        errors = [a.error for a in delivery.attempts]
        if delivery.attempts and all(a.status is None and a.error != "TimeoutError" for a in delivery.attempts):
            raise Unreachable(f"cannot reach the server at {self.url}: {errors[-1]}")
        shown = [line for entry in reply_entries(delivery) for line in render(entry, self.shop)]
        return shown or nothing_shown(kind)

    async def close(self) -> None:
        await self.session.close()
