"""Configuration and bookkeeping of one MP API emulator: tokens, template ledger, OAuth codes, faults, pushes.

Tests reach it with `mp_state(app)`: `token_fetches`, `calls`, `inject_error(...)`, `await drain_pushes()`,
`push_log`. Followers, windows, menus and deliveries live in the shared `World`.
"""

from __future__ import annotations

import asyncio
import random
import string
import threading
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import aiohttp
from aiohttp import web

from bot.sandbox.mp_errors import MpError
from bot.sandbox.mp_push import PushMode, PushResult, SignedPush, deliver, sign_push
from bot.sandbox.mp_tokens import TokenIssuer
from bot.sandbox.world import World
from store.core.clock import SHANGHAI, Clock

CLIENT_MSG_ID_TTL = timedelta(minutes=10)
_ALPHABET = string.ascii_letters + string.digits + "_-"
OAUTH_CODE_TTL = timedelta(minutes=5)
PUSH_LOG_SIZE = 10_000  # the newest pushes only: a demo may run for days


def _rng(seed: int | None, purpose: str) -> random.Random:
    """One generator per component (each behind its own lock); reproducible when a seed is given."""
    return random.Random(None if seed is None else f"{seed}:{purpose}")


@dataclass(frozen=True)
class MpConfig:
    """Everything `create_mp_app` takes besides the world; see its docstring."""

    callback_url: str | None = None
    token: str = ""
    encoding_aes_key: str = ""
    original_id: str = "gh_sandbox"
    latency_ms: int = 0
    fail_rate: float = 0.0
    seed: int | None = None
    token_daily_quota: int = 2000
    template_daily_quota: int = 100_000
    template_ids: frozenset[str] | None = None
    strict_template_fields: bool = True
    oauth_domains: frozenset[str] | None = None
    push_mode: PushMode | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError("fail_rate must be within [0, 1]")
        if self.latency_ms < 0:
            raise ValueError("latency_ms cannot be negative")
        if self.effective_push_mode != "plain" and not self.encoding_aes_key:
            raise ValueError("compatible and safe push modes need an encoding_aes_key")

    @property
    def effective_push_mode(self) -> PushMode:
        """Safe mode whenever an EncodingAESKey is configured, unless told otherwise."""
        return self.push_mode or ("safe" if self.encoding_aes_key else "plain")


class TemplateLedger:
    """Template msgids, the daily quota and `client_msg_id` de-duplication (same openid + id within 10 min)."""

    def __init__(self, daily_quota: int) -> None:
        self._daily_quota = daily_quota
        self._lock = threading.Lock()
        self._next_msgid = 3_000_000_001
        self._per_day: dict[date, int] = {}
        self._recent: OrderedDict[tuple[str, str], tuple[int, datetime]] = OrderedDict()

    def sent_today(self, now: datetime) -> int:
        with self._lock:
            return self._per_day.get(now.astimezone(SHANGHAI).date(), 0)

    def reserve(self, openid: str, client_msg_id: str | None, now: datetime) -> int:
        """A new msgid, or MpError 45065 (duplicate; the body carries the first msgid) / 45009 (quota)."""
        with self._lock:
            while self._recent:
                _, (_, at) = next(iter(self._recent.items()))
                if now - at < CLIENT_MSG_ID_TTL:
                    break
                self._recent.popitem(last=False)
            if client_msg_id:
                seen = self._recent.get((openid, client_msg_id))
                if seen is not None:
                    raise MpError(45065, msgid=seen[0])
            day = now.astimezone(SHANGHAI).date()
            if self._per_day.get(day, 0) >= self._daily_quota:
                raise MpError(45009)
            self._per_day[day] = self._per_day.get(day, 0) + 1
            msgid = self._next_msgid
            self._next_msgid += 1
            if client_msg_id:
                self._recent[(openid, client_msg_id)] = (msgid, now)
            return msgid


@dataclass
class _OAuthCode:
    openid: str
    scope: str
    issued_at: datetime
    used: bool = False


class OAuthCodes:
    """snsapi codes: single use (40163 when reused), valid 5 minutes (40029 after)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._lock = threading.Lock()
        self._codes: dict[str, _OAuthCode] = {}

    def issue(self, openid: str, scope: str, now: datetime) -> str:
        with self._lock:
            for stale in [c for c, v in self._codes.items() if now - v.issued_at > timedelta(days=1)]:
                del self._codes[stale]
            code = "".join(self._rng.choices(string.ascii_letters + string.digits, k=32))
            self._codes[code] = _OAuthCode(openid, scope, now)
            return code

    def redeem(self, code: str, now: datetime) -> tuple[str, str]:
        """(openid, scope) for a fresh code; marks it used."""
        with self._lock:
            entry = self._codes.get(code)
            if entry is None:
                raise MpError(40029)
            if entry.used:
                raise MpError(40163)
            if now - entry.issued_at >= OAUTH_CODE_TTL:
                raise MpError(40029)
            entry.used = True
            return entry.openid, entry.scope


class MpState:
    """The emulator's own state, kept under `MP_STATE` in the app."""

    def __init__(self, world: World, config: MpConfig) -> None:
        self.world = world
        self.config = config
        self.rng = _rng(config.seed, "mp")
        self.tokens = TokenIssuer(
            world.app_id,
            world.app_secret,
            world.clock,
            _rng(config.seed, "tokens"),
            daily_quota=config.token_daily_quota,
        )
        self.templates = TemplateLedger(config.template_daily_quota)
        self.oauth = OAuthCodes(_rng(config.seed, "oauth"))
        self.calls: Counter[str] = Counter()
        self.push_log: deque[PushResult] = deque(maxlen=PUSH_LOG_SIZE)
        self.session: aiohttp.ClientSession | None = None
        self._injected: dict[str, deque[int]] = {}
        self._lost: dict[str, int] = {}
        self._pushes: set[asyncio.Task[None]] = set()
        self._rid = 0
        self._lock = threading.Lock()

    @property
    def clock(self) -> Clock:
        return self.world.clock

    @property
    def token_fetches(self) -> int:
        """How many tokens /cgi-bin/token has issued (failed calls are not counted)."""
        return self.tokens.fetch_count

    # -- fault injection -------------------------------------------------------------------------------------

    def inject_error(self, path: str, errcode: int, times: int = 1) -> None:
        """Make the next `times` calls of `path` (e.g. "/cgi-bin/message/custom/send") answer `errcode`."""
        path = path if path.startswith("/") else "/" + path
        with self._lock:
            self._injected.setdefault(path, deque()).extend([errcode] * times)

    def lose_answers(self, path: str, times: int = 1) -> None:
        """Handle the next `times` calls of `path` (a message is delivered) but lose the answer: the client gets
        HTTP 502, as from a proxy whose upstream connection broke, and cannot know whether its call took effect."""
        path = path if path.startswith("/") else "/" + path
        with self._lock:
            self._lost[path] = self._lost.get(path, 0) + times

    def answer_lost(self, path: str) -> bool:
        with self._lock:
            left = self._lost.get(path, 0)
            if left:
                self._lost[path] = left - 1
            return left > 0

    def raise_injected(self, path: str) -> None:
        with self._lock:
            queue = self._injected.get(path)
            errcode = queue.popleft() if queue else None
        if errcode is not None:
            raise MpError(errcode, "hint: [injected by the sandbox]")

    def roll_failure(self) -> bool:
        """True when a random fault (`fail_rate`) hits this call."""
        if self.config.fail_rate <= 0:
            return False
        with self._lock:
            return self.rng.random() < self.config.fail_rate

    def next_rid(self) -> str:
        with self._lock:
            self._rid += 1
            return f"{self._rid:08x}-sandbox"

    def nonce(self) -> str:
        with self._lock:
            return str(self.rng.randrange(10**8, 10**10))

    def random_string(self, length: int) -> str:
        with self._lock:
            return "".join(self.rng.choices(_ALPHABET, k=length))

    # -- pushes to the callback URL --------------------------------------------------------------------------

    def schedule_push(self, openid: str, xml: str) -> None:
        """Send `xml` to the callback URL in the background (no-op without one); see `drain_pushes`."""
        url = self.config.callback_url
        if not url:
            return
        push = sign_push(
            xml,
            token=self.config.token,
            openid=openid,
            timestamp=int(self.clock.now().timestamp()),
            nonce=self.nonce(),
            mode=self.config.effective_push_mode,
            encoding_aes_key=self.config.encoding_aes_key,
            app_id=self.world.app_id,
            original_id=self.config.original_id,
        )
        task = asyncio.get_running_loop().create_task(self._push(url, openid, push))
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    async def _push(self, url: str, openid: str, push: SignedPush) -> None:
        if self.session is None:
            raise RuntimeError("the MP emulator is not running (no client session)")
        self.push_log.append(await deliver(self.session, url, openid, push))

    async def drain_pushes(self) -> list[PushResult]:
        """Wait until every scheduled push has finished (tests call this instead of sleeping); returns the log."""
        while pending := [t for t in self._pushes if not t.done()]:
            await asyncio.gather(*pending)
        return list(self.push_log)

    async def close(self) -> None:
        for task in self._pushes:
            task.cancel()
        await asyncio.gather(*self._pushes, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
            self.session = None


MP_STATE = web.AppKey("mp_state", MpState)


def mp_state(app: web.Application) -> MpState:
    """The emulator state of an app made by `create_mp_app`."""
    return app[MP_STATE]
