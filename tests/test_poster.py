"""裂变海报 through the real pipeline: "生成海报" over signed HTTP makes the follower's referral code through the
sandbox's qrcode/create (once), uploads the drawn poster through media/upload and sends it as a customer-service
image; a friend who follows through the poster's code is attributed to the sharer in the admin API's QR report.
Also the sandbox's media emulator on its own, and the poster rendered without a CJK font."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from bot.chat.conversation import SEARCH_BUILT
from bot.process.config import Config
from bot.sandbox.follower import FollowerSimulator
from bot.sandbox.mp_media import MEDIA
from bot.sandbox.mp_state import MP_STATE
from bot.web.runtime import RESOURCES
from bot.wechat.api import WeChatGateway
from store.core.wechat_errors import WeChatError
from store.members.followers import Follower
from store.members.posters import HEIGHT, WIDTH, PosterContent, poster_scene, render_poster
from store.members.qrcodes import QrCode
from store.outbox.windows import CsWindows, WindowQuotas
from tests.gateway_support import account_for
from tests.pay_support import PayWorld, pay_world

SHARER, FRIEND = "o_poster_sharer", "o_poster_friend"


@pytest.fixture
async def world(migrated: Config) -> AsyncIterator[PayWorld]:
    async with pay_world(migrated) as w:
        w.sandbox.world.follow(SHARER)
        yield w


def follower(w: PayWorld) -> FollowerSimulator:
    url = f"{w.shop_url}{w.config.server.wechat_path}"
    return FollowerSimulator(url, account_for(w.config, "plain"), w.session, w.clock, world=w.sandbox.world)


def images_sent(w: PayWorld, openid: str) -> list[bytes]:
    sent = [d.payload for d in w.sandbox.world.delivered(openid) if d.kind == "custom"]
    media = w.sandbox.app[MEDIA]
    found = [media.get(p["image"]["media_id"], w.clock.now()) for p in sent if p.get("msgtype") == "image"]
    return [m.data for m in found if m is not None]


async def test_a_poster_of_the_product_is_sent_and_brings_an_attributed_follower(world: PayWorld) -> None:
    await world.app[SEARCH_BUILT]  # the index builds in the background at start-up; a slow machine misses 5 s
    chat = follower(world)
    await chat.send_text(SHARER, "连衣裙")
    await chat.send_text(SHARER, "1")
    made = await chat.send_text(SHARER, "生成海报")
    assert "专属海报已发送" in made.shown, made.shown
    [png] = images_sent(world, SHARER)
    with Image.open(io.BytesIO(png)) as image:
        assert (image.format, image.size) == ("PNG", (WIDTH, HEIGHT))
    code = QrCode.get(QrCode.scene == poster_scene(SHARER))
    assert code.referrer_openid == SHARER and code.ticket and code.url
    again = await chat.send_text(SHARER, "生成海报 店铺")  # the shop's poster: the same referral code
    assert "专属海报已发送" in again.shown
    assert len(images_sent(world, SHARER)) == 2
    assert world.sandbox.app[MP_STATE].calls["/cgi-bin/qrcode/create"] == 1, "one code per follower"

    await chat.follow(FRIEND, scene=code.scene)
    assert Follower.get(Follower.openid == FRIEND).source_scene == code.scene
    status, body = await world.admin("GET", "/admin/api/qrcodes")
    assert status == 200, body
    [row] = [c for c in body["qrcodes"] if c["scene"] == code.scene]
    assert (row["referrer"], row["followers"]) == (SHARER, 1)


async def test_a_refused_upload_is_told_politely(world: PayWorld) -> None:
    world.sandbox.app[MP_STATE].inject_error("/cgi-bin/media/upload", 45009)  # the daily API quota
    made = await follower(world).send_text(SHARER, "生成海报")
    assert "没能生成" in made.shown and images_sent(world, SHARER) == []


async def test_the_poster_takes_its_message_from_the_followers_window(migrated: Config) -> None:
    one = dataclasses.replace(migrated, shop=dataclasses.replace(migrated.shop, cs_quota_after_message=1))
    async with pay_world(one) as w:
        w.sandbox.world.follow(SHARER)
        windows = CsWindows(w.app[RESOURCES].redis, w.app[RESOURCES].key, WindowQuotas(1, 3))
        made = await follower(w).send_text(SHARER, "生成海报")
        assert "专属海报已发送" in made.shown and len(images_sent(w, SHARER)) == 1
        assert windows.verdict(SHARER, w.clock.now()) == "used_up", "the image spent the one message left"


async def test_the_media_emulator_takes_images_and_refuses_the_rest(world: PayWorld) -> None:
    gateway = WeChatGateway(world.config, world.app[RESOURCES].redis)  # blocking: called on a thread
    try:
        png = render_poster(PosterContent("店", "标题", "¥1", "好友", "http://weixin.qq.com/q/x"))
        media_id = await asyncio.to_thread(gateway.upload_image, png)
        stored = world.sandbox.app[MEDIA].get(media_id, world.clock.now())
        assert stored is not None and stored.data == png and stored.content_type == "image/png"
        with pytest.raises(WeChatError) as refused:
            await asyncio.to_thread(gateway.upload_image, b"not an image at all")
        assert refused.value.errcode == 40005
        with pytest.raises(WeChatError) as unknown:
            await asyncio.to_thread(gateway.send_image, SHARER, "no-such-media")
        assert unknown.value.errcode == 40007
        await asyncio.to_thread(gateway.send_image, SHARER, media_id)
        assert images_sent(world, SHARER) == [png]
        world.clock.advance(days=3)
        assert world.sandbox.app[MEDIA].get(media_id, world.clock.now()) is None, "temporary media last 3 days"
    finally:
        gateway.close()


def test_the_poster_renders_without_a_cjk_font() -> None:
    png = render_poster(PosterContent("微选小店", "法式碎花连衣裙" * 5, "¥159", "好友", "http://weixin.qq.com/q/x"),
                        font_file=None)  # fmt: skip
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (WIDTH, HEIGHT)
