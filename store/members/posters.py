"""裂变海报: a follower's share poster — the product (or the shop), the follower's name and their own referral QR
code — and the referral code behind it.

The code is an ordinary referrer code of `store.members.qrcodes` (one permanent `poster_…` scene per follower), so
a friend who follows by scanning a poster is attributed to the sharer by the existing first-touch attribution and
counted in the QR report (admin API, console). The image is drawn with Pillow; the QR modules with `qrcode` from
the URL WeChat gave for the ticket (what WeChat's own code image encodes). A CJK font is used when the machine has
one (Debian's fonts-noto-cjk); without one the poster still renders with Pillow's default font.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import qrcode
from PIL import Image, ImageDraw, ImageFont

from store.members.qrcodes import REFERRER, QrCode, QrRequest, SceneTaken, create_qrcode

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)
WIDTH, HEIGHT = 750, 1150
RED, INK, GREY = (228, 57, 60), (34, 34, 34), (136, 136, 136)


@dataclass(frozen=True)
class PosterContent:
    headline: str  # the shop's name
    title: str  # the product's title, or the shop's invitation
    price: str  # "¥159" or ""
    nickname: str  # the sharer's name, or a placeholder
    qr_url: str  # what the QR code encodes


def poster_scene(openid: str) -> str:
    return "poster_" + hashlib.sha256(openid.encode()).hexdigest()[:16]


def referral_code(openid: str, create: Callable[[dict[str, Any]], dict[str, Any]], now: datetime) -> QrCode:
    """The follower's poster code, asked of WeChat (`create` is the gateway's qrcode/create) the first time."""
    scene = poster_scene(openid)
    found = QrCode.get_or_none(QrCode.scene == scene)
    if found is not None and found.url:
        return found
    try:
        return create_qrcode(QrRequest(REFERRER, f"海报 {openid}"[:64], scene, openid, None), create, now)
    except SceneTaken:  # a second request of the same follower created it meanwhile
        return QrCode.get(QrCode.scene == scene)


@cache
def font_path() -> str | None:
    return next((path for path in FONT_CANDIDATES if Path(path).is_file()), None)


@cache
def _font(size: int, path: str | None) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int, lines: int) -> list[str]:
    out, line = [], ""
    for ch in text:
        if draw.textlength(line + ch, font=font) > width:
            out.append(line)
            line = ch
            if len(out) == lines:
                out[-1] = out[-1][:-1] + "…"
                return out
        else:
            line += ch
    return [*out, line] if line else out


def render_poster(content: PosterContent, font_file: str | None = "") -> bytes:
    """The poster as PNG bytes, in `font_file` ("": the machine's CJK font if any; None: Pillow's own)."""
    path = font_path() if font_file == "" else font_file

    def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        return _font(size, path)

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 110), fill=RED)
    draw.text((40, 32), content.headline, font=font(40), fill="white")
    draw.rectangle((40, 140, WIDTH - 40, 560), fill=(242, 242, 242))  # the product image's place
    draw.text((WIDTH // 2, 350), "商品图片", font=font(36), fill=GREY, anchor="mm")
    y = 590
    for line in _wrap(draw, content.title, font(38), WIDTH - 80, 2):
        draw.text((40, y), line, font=font(38), fill=INK)
        y += 52
    if content.price:
        draw.text((40, y + 6), content.price, font=font(48), fill=RED)
    code = qrcode.QRCode(border=1, box_size=8)
    code.add_data(content.qr_url)
    code.make(fit=True)
    qr_image = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB").resize((260, 260))
    image.paste(qr_image, (WIDTH - 300, HEIGHT - 320))
    draw.ellipse((40, HEIGHT - 300, 120, HEIGHT - 220), fill=(250, 214, 214))  # the sharer's avatar's place
    draw.text((80, HEIGHT - 260), content.nickname[:1], font=font(36), fill=RED, anchor="mm")
    draw.text((140, HEIGHT - 290), f"{content.nickname[:10]} 推荐", font=font(32), fill=INK)
    draw.text((40, HEIGHT - 190), "长按识别二维码", font=font(30), fill=INK)
    draw.text((40, HEIGHT - 145), "关注公众号一起逛", font=font(30), fill=GREY)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
