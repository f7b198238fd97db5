"""Temporary media (临时素材, WECHAT.md §2): `POST /cgi-bin/media/upload?type=image` takes a multipart `media` file
and answers `{"type", "media_id", "created_at"}`; `GET /cgi-bin/media/get?media_id=` gives the bytes back (what
the chat preview shows for an image message). Images only, as WeChat takes them: PNG, JPEG or GIF up to 10 MB
(40005 another format, 40006 too big, 41005 no file, 40004 another type); a media_id lives three days (40007
after, or for one never issued)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import BodyPartReader, web

from bot.sandbox.mp_errors import MpError, plain
from bot.sandbox.mp_state import MP_STATE

IMAGE_MAX_BYTES = 10 * 1024 * 1024
MEDIA_TTL = timedelta(days=3)
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


@dataclass(frozen=True)
class Media:
    media_id: str
    content_type: str
    data: bytes
    created_at: datetime


class MediaStore:
    def __init__(self) -> None:
        self._items: dict[str, Media] = {}
        self._lock = threading.Lock()

    def add(self, media: Media) -> None:
        with self._lock:
            self._items[media.media_id] = media

    def get(self, media_id: str, now: datetime) -> Media | None:
        with self._lock:
            media = self._items.get(media_id)
        return media if media is not None and media.created_at + MEDIA_TTL > now else None


MEDIA = web.AppKey("mp_media", MediaStore)


def setup_media(app: web.Application) -> None:
    app[MEDIA] = MediaStore()
    app.router.add_post("/cgi-bin/media/upload", media_upload)
    app.router.add_get("/cgi-bin/media/get", media_get)


def _content_type(data: bytes) -> str:
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            return kind
    raise MpError(40005, "hint: images must be PNG, JPEG or GIF")


async def _file(request: web.Request) -> bytes:
    if not request.content_type.startswith("multipart/"):
        raise MpError(41005, "hint: send the file as multipart field media")
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and part.name == "media":
            data = bytearray()
            while chunk := await part.read_chunk():
                data += chunk
                if len(data) > IMAGE_MAX_BYTES:
                    raise MpError(40006, "hint: images are at most 10 MB")
            return bytes(data)
    raise MpError(41005)


async def media_upload(request: web.Request) -> web.Response:
    state = request.app[MP_STATE]
    if request.query.get("type") != "image":
        raise MpError(40004, "hint: the sandbox takes type=image")
    data = await _file(request)
    if not data:
        raise MpError(41005)
    now = state.clock.now()
    media = Media(state.random_string(64), _content_type(data), data, now)
    request.app[MEDIA].add(media)
    return plain({"type": "image", "media_id": media.media_id, "created_at": int(now.timestamp())})


async def media_get(request: web.Request) -> web.StreamResponse:
    state = request.app[MP_STATE]
    media = request.app[MEDIA].get(request.query.get("media_id", ""), state.clock.now())
    if media is None:
        raise MpError(40007)
    return web.Response(body=media.data, content_type=media.content_type)
