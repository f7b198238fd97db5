"""The shared in-memory state of the emulated WeChat: followers, service windows, menus, QR codes, deliveries.

Every sandbox emulator (MP API, Pay, tracking) and the follower simulator read and change one `World`, so a
payment recorded by the Pay emulator opens the customer-service window the MP emulator enforces, and a chat
preview can show what each follower has been sent. All methods are thread-safe: the web server may call from
threads. Time comes only from the injected clock.

Customer-service windows (WECHAT.md §2.2). Interactions open windows in three buckets:

* ``payment`` → unlimited messages for 48 h;
* ``message`` → ``cs_quota_after_message`` (default 5) messages for 48 h;
* ``click`` / ``subscribe`` / ``scan`` → ``cs_quota_after_click`` (default 3) messages for 1 minute. The three
  share one bucket: a follow then a tap within the minute leaves 3 messages, not 6 (WeChat does not say; the
  stricter reading keeps the product honest).

A new interaction of a bucket opens a fresh window there (its counter resets). When windows overlap, a send is
allowed if any open window has room and consumes from the one that grants it, preferring payment, then message,
then click — the order that wastes the fewest scarce messages. Unfollowing closes every window.
"""

from __future__ import annotations

import copy
import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.sandbox.tag_book import TagBook
from store.core.clock import Clock

log = logging.getLogger("wxshop.sandbox.world")

InteractionKind = Literal["message", "click", "subscribe", "scan", "payment"]
DeliveryKind = Literal["custom", "template"]
DeliveryListener = Callable[[str, "Delivered"], None]
QrScene = int | str

_BUCKET: dict[str, str] = {
    "message": "message",
    "click": "click",
    "subscribe": "click",
    "scan": "click",
    "payment": "payment",
}
_BUCKET_ORDER = ("payment", "message", "click")
WINDOW_LONG = timedelta(hours=48)
WINDOW_SHORT = timedelta(minutes=1)


@dataclass(frozen=True)
class Delivered:
    """One message as the follower sees it in the chat: a customer-service or a template message."""

    kind: DeliveryKind
    payload: dict[str, Any]
    at: datetime
    msgid: int | None = None


@dataclass(frozen=True)
class FollowerInfo:
    """A snapshot of one openid known to the account (it may have unfollowed, or never followed)."""

    openid: str
    subscribed: bool
    subscribe_time: datetime | None
    subscribe_scene: str
    qr_scene: int
    qr_scene_str: str
    blocks_templates: bool


@dataclass(frozen=True)
class QrCode:
    """A parametric QR code created through the API; `expires_at` is None for permanent codes."""

    ticket: str
    action_name: str
    scene: QrScene
    created_at: datetime
    expires_at: datetime | None
    url: str


@dataclass(frozen=True)
class QrScan:
    """What WeChat pushes when a follower scans a parametric code: `subscribe` (qrscene_ prefix) or `SCAN`."""

    event: Literal["subscribe", "SCAN"]
    event_key: str
    ticket: str
    scene: QrScene


class CsVerdict(enum.Enum):
    """The outcome of a customer-service send, mapped to errcodes by the API emulator."""

    SENT = "sent"
    UNKNOWN_OPENID = "unknown_openid"
    NOT_FOLLOWING = "not_following"
    OUT_OF_WINDOW = "out_of_window"
    QUOTA_EXHAUSTED = "quota_exhausted"


@dataclass
class _Window:
    opened_at: datetime
    expires_at: datetime
    limit: int | None
    used: int = 0

    def open_at(self, now: datetime) -> bool:
        return self.opened_at <= now < self.expires_at

    def has_room(self) -> bool:
        return self.limit is None or self.used < self.limit


@dataclass
class _Follower:
    openid: str
    subscribed: bool = False
    subscribe_time: datetime | None = None
    subscribe_scene: str = "ADD_SCENE_OTHERS"
    qr_scene: int = 0
    qr_scene_str: str = ""
    blocks_templates: bool = False
    windows: dict[str, _Window] = field(default_factory=dict)
    interactions: list[tuple[InteractionKind, datetime]] = field(default_factory=list)
    deliveries: list[Delivered] = field(default_factory=list)

    def snapshot(self) -> FollowerInfo:
        return FollowerInfo(
            openid=self.openid,
            subscribed=self.subscribed,
            subscribe_time=self.subscribe_time,
            subscribe_scene=self.subscribe_scene,
            qr_scene=self.qr_scene,
            qr_scene_str=self.qr_scene_str,
            blocks_templates=self.blocks_templates,
        )


class World:
    """The emulated WeChat side of one official account: who follows, what they may be sent, what they saw."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        clock: Clock,
        *,
        cs_quota_after_message: int = 5,
        cs_quota_after_click: int = 3,
    ) -> None:
        if cs_quota_after_message < 0 or cs_quota_after_click < 0:
            raise ValueError("customer-service quotas cannot be negative")
        self.app_id = app_id
        self.app_secret = app_secret
        self.clock = clock
        self.cs_quota_after_message = cs_quota_after_message
        self.cs_quota_after_click = cs_quota_after_click
        self._lock = threading.Lock()
        self._followers: dict[str, _Follower] = {}
        self._listeners: list[DeliveryListener] = []
        self._menu: dict[str, Any] | None = None
        self.tags = TagBook()  # user tags and conditional menus (bot/sandbox/tag_book.py)
        self._qrcodes: dict[str, QrCode] = {}
        self._refused: list[tuple[str, CsVerdict, datetime]] = []

    # -- followers -------------------------------------------------------------------------------------------

    def follow(self, openid: str, *, scene: str = "ADD_SCENE_OTHERS", qr_scene: QrScene | None = None) -> None:
        """Follow the account (no-op if already following); a follow opens a 3-in-1-minute window, like WeChat."""
        now = self.clock.now()
        with self._lock:
            self._follow_locked(self._get_or_create(openid), now, scene, qr_scene)

    def unfollow(self, openid: str) -> None:
        """Unfollow: every customer-service window closes (WeChat answers 45015 from now on)."""
        with self._lock:
            follower = self._followers.get(openid)
            if follower is None:
                return
            follower.subscribed = False
            follower.windows.clear()

    def register(self, openid: str) -> None:
        """Make an openid known without following, e.g. a visitor of an OAuth page (user/info says subscribe 0)."""
        with self._lock:
            self._get_or_create(openid)

    def is_following(self, openid: str) -> bool:
        with self._lock:
            follower = self._followers.get(openid)
            return follower is not None and follower.subscribed

    def follower(self, openid: str) -> FollowerInfo | None:
        """A snapshot of the openid, or None if the account has never seen it (WeChat's 40003)."""
        with self._lock:
            follower = self._followers.get(openid)
            return follower.snapshot() if follower else None

    def followers(self) -> list[FollowerInfo]:
        with self._lock:
            return [f.snapshot() for f in self._followers.values()]

    def block_templates(self, openid: str, blocked: bool = True) -> None:
        """Mark a follower as refusing this account's template messages (push status `failed:user block`)."""
        with self._lock:
            self._get_or_create(openid).blocks_templates = blocked

    # -- customer-service windows ----------------------------------------------------------------------------

    def record_interaction(self, openid: str, kind: InteractionKind, at: datetime | None = None) -> None:
        """Note what the follower did; opens the matching customer-service window (see the module docstring).

        Callers record `click` only for menu types that grant it (click, scancode_push, scancode_waitmsg).
        """
        if kind not in _BUCKET:
            raise ValueError(f"unknown interaction kind {kind!r}")
        when = at or self.clock.now()
        with self._lock:
            self._record_locked(self._get_or_create(openid), kind, when)

    def interactions(self, openid: str) -> list[tuple[InteractionKind, datetime]]:
        with self._lock:
            follower = self._followers.get(openid)
            return list(follower.interactions) if follower else []

    def cs_allowance(self, openid: str) -> int | None:
        """How many customer-service messages may be sent now (None = unlimited); for previews and tests."""
        now = self.clock.now()
        with self._lock:
            follower = self._followers.get(openid)
            if follower is None or not follower.subscribed:
                return 0
            total = 0
            for window in follower.windows.values():
                if window.open_at(now):
                    if window.limit is None:
                        return None
                    total += window.limit - window.used
            return total

    def send_custom(self, openid: str, payload: dict[str, Any]) -> CsVerdict:
        """Check the windows, consume one message and record the delivery, atomically; a refusal is kept
        (`refused`)."""
        now = self.clock.now()
        with self._lock:
            granting = self._granting_locked(openid, now)
            if isinstance(granting, CsVerdict):
                self._refused.append((openid, granting, now))
                return granting
            follower = self._followers[openid]
            granting.used += 1
            delivered = Delivered("custom", copy.deepcopy(payload), now, None)
            follower.deliveries.append(delivered)
            listeners = list(self._listeners)
        self._notify(listeners, openid, delivered)
        return CsVerdict.SENT

    def refused(self) -> list[tuple[str, CsVerdict, datetime]]:
        """Every customer-service send refused so far: (openid, verdict, when). A product that keeps to the
        windows leaves this empty."""
        with self._lock:
            return list(self._refused)

    def _granting_locked(self, openid: str, now: datetime) -> _Window | CsVerdict:
        """The window a customer-service send would take from, or why there is none."""
        follower = self._followers.get(openid)
        if follower is None:
            return CsVerdict.UNKNOWN_OPENID
        if not follower.subscribed:
            return CsVerdict.NOT_FOLLOWING
        open_windows = [w for b in _BUCKET_ORDER if (w := follower.windows.get(b)) is not None and w.open_at(now)]
        if not open_windows:
            return CsVerdict.OUT_OF_WINDOW
        return next((w for w in open_windows if w.has_room()), CsVerdict.QUOTA_EXHAUSTED)

    # -- deliveries ------------------------------------------------------------------------------------------

    def record_delivery(self, openid: str, delivered: Delivered) -> None:
        """Add a message to the follower's chat (template messages; custom ones go through `send_custom`)."""
        with self._lock:
            self._get_or_create(openid).deliveries.append(delivered)
            listeners = list(self._listeners)
        self._notify(listeners, openid, delivered)

    def delivered(self, openid: str) -> list[Delivered]:
        with self._lock:
            follower = self._followers.get(openid)
            return list(follower.deliveries) if follower else []

    def subscribe_deliveries(self, callback: DeliveryListener) -> Callable[[], None]:
        """Call `callback(openid, delivered)` after each new delivery; returns a function that unsubscribes.

        Callbacks run in the thread that recorded the delivery, outside the lock; an asyncio consumer should hop
        onto its loop with `loop.call_soon_threadsafe`.
        """
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    # -- menu ------------------------------------------------------------------------------------------------

    def set_menu(self, menu: dict[str, Any] | None) -> None:
        """Store the validated custom menu (None deletes it); the follower simulator taps its buttons."""
        with self._lock:
            self._menu = copy.deepcopy(menu)

    def menu(self) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self._menu)

    # -- QR codes --------------------------------------------------------------------------------------------

    def add_qrcode(self, qrcode: QrCode) -> None:
        with self._lock:
            self._qrcodes[qrcode.ticket] = qrcode

    def permanent_qrcode(self, action_name: str, scene: QrScene) -> QrCode | None:
        """The existing permanent code for a scene: WeChat hands out the same ticket again."""
        with self._lock:
            for qrcode in self._qrcodes.values():
                if qrcode.expires_at is None and qrcode.action_name == action_name and qrcode.scene == scene:
                    return qrcode
            return None

    def scan_ticket(self, ticket: str) -> QrScene:
        """The scene behind a ticket; LookupError when the ticket is unknown or has expired."""
        now = self.clock.now()
        with self._lock:
            qrcode = self._qrcodes.get(ticket)
        if qrcode is None:
            raise LookupError(f"unknown QR ticket {ticket!r}")
        if qrcode.expires_at is not None and now >= qrcode.expires_at:
            raise LookupError(f"QR ticket {ticket!r} expired at {qrcode.expires_at.isoformat()}")
        return qrcode.scene

    def scan(self, openid: str, ticket: str) -> QrScan:
        """A follower scans a code: follows with the QR scene if new, records the scan, says what WeChat pushes."""
        scene = self.scan_ticket(ticket)
        now = self.clock.now()
        with self._lock:
            follower = self._get_or_create(openid)
            followed = self._follow_locked(follower, now, "ADD_SCENE_QR_CODE", scene)
            self._record_locked(follower, "scan", now)
        if followed:
            return QrScan("subscribe", f"qrscene_{scene}", ticket, scene)
        return QrScan("SCAN", str(scene), ticket, scene)

    # -- internals -------------------------------------------------------------------------------------------

    def _get_or_create(self, openid: str) -> _Follower:
        if not openid:
            raise ValueError("openid must not be empty")
        follower = self._followers.get(openid)
        if follower is None:
            follower = self._followers[openid] = _Follower(openid)
        return follower

    def _follow_locked(self, follower: _Follower, now: datetime, scene: str, qr_scene: QrScene | None) -> bool:
        if follower.subscribed:
            return False
        follower.subscribed = True
        follower.subscribe_time = now
        follower.subscribe_scene = scene
        follower.qr_scene = qr_scene if isinstance(qr_scene, int) else 0
        follower.qr_scene_str = qr_scene if isinstance(qr_scene, str) else ""
        self._record_locked(follower, "subscribe", now)
        return True

    def _record_locked(self, follower: _Follower, kind: InteractionKind, at: datetime) -> None:
        follower.interactions.append((kind, at))
        bucket = _BUCKET[kind]
        current = follower.windows.get(bucket)
        if current is not None and current.opened_at > at:
            return  # a late report of an older interaction does not shorten a newer window
        if bucket == "payment":
            window = _Window(at, at + WINDOW_LONG, None)
        elif bucket == "message":
            window = _Window(at, at + WINDOW_LONG, self.cs_quota_after_message)
        else:
            window = _Window(at, at + WINDOW_SHORT, self.cs_quota_after_click)
        follower.windows[bucket] = window

    @staticmethod
    def _notify(listeners: list[DeliveryListener], openid: str, delivered: Delivered) -> None:
        for listener in listeners:
            try:
                listener(openid, delivered)
            except Exception:
                log.exception("delivery listener %r failed for %s", listener, openid)
