"""The callback over real HTTP: every message and event type in all three modes, signatures, key changes."""

from __future__ import annotations

import pytest

from bot.process.config import Config
from bot.sandbox.follower import UNAVAILABLE, render_xml
from store.core.db import open_database
from store.members.followers import Follower
from tests.gateway_support import AES_KEY, OLD_AES_KEY, running, with_mode

MODES = ["plain", "compatible", "safe"]

MESSAGES = {
    "text": {"Content": "你好"},
    "image": {"PicUrl": "http://img.example/1.jpg", "MediaId": "media1"},
    "voice": {"MediaId": "media2", "Format": "amr", "Recognition": ""},
    "video": {"MediaId": "media3", "ThumbMediaId": "thumb3"},
    "shortvideo": {"MediaId": "media4", "ThumbMediaId": "thumb4"},
    "location": {"Location_X": "23.134521", "Location_Y": "113.358803", "Scale": "20", "Label": "广州市天河区"},
    "link": {"Title": "好物推荐", "Description": "看看这个", "Url": "http://example.com/a"},
}

EVENTS = {
    "LOCATION": {"Latitude": "23.137466", "Longitude": "113.352425", "Precision": "119.385040"},
    "CLICK": {"EventKey": "BROWSE"},
    "VIEW": {"EventKey": "http://shop.example/", "MenuId": "1"},
    "scancode_push": {"EventKey": "SCAN1", "ScanCodeInfo": {"ScanType": "qrcode", "ScanResult": "1"}},
    "scancode_waitmsg": {"EventKey": "SCAN2", "ScanCodeInfo": {"ScanType": "qrcode", "ScanResult": "2"}},
    "pic_sysphoto": {"EventKey": "PIC", "SendPicsInfo": {"Count": 1, "PicList": {"item": {"PicMd5Sum": "abc"}}}},
    "location_select": {
        "EventKey": "LOC",
        "SendLocationInfo": {"Location_X": "23", "Location_Y": "113", "Scale": "15", "Label": "x", "Poiname": ""},
    },
    "view_miniprogram": {"EventKey": "pages/index", "MenuId": "2"},
    "TEMPLATESENDJOBFINISH": {"MsgID": 200163836, "Status": "success"},
    "MASSSENDJOBFINISH": {"MsgID": 1000001625, "Status": "send success", "TotalCount": 100, "SentCount": 99},
    "kf_create_session": {"KfAccount": "test1@test"},
}


@pytest.mark.parametrize("mode", MODES)
async def test_every_message_type_gets_a_valid_reply(migrated: Config, mode: str) -> None:
    async with running(with_mode(migrated, mode)) as shop:
        follower = shop.follower(mode)
        for kind, fields in MESSAGES.items():
            delivery = await follower.send("o_user_1", {"MsgType": kind, **fields})
            assert [a.status for a in delivery.attempts] == [200], kind
            assert not delivery.failed, (kind, delivery.error)
            assert delivery.reply is not None and delivery.reply["MsgType"] == "text", kind
            assert delivery.shown.strip(), kind
        welcome = await follower.send_text("o_user_1", "你好")
        assert migrated.shop.name in welcome.shown


@pytest.mark.parametrize("mode", MODES)
async def test_every_event_type_is_answered_or_acknowledged(migrated: Config, mode: str) -> None:
    async with running(with_mode(migrated, mode)) as shop:
        follower = shop.follower(mode)
        for event, fields in EVENTS.items():
            delivery = await follower.send("o_user_2", {"MsgType": "event", "Event": event, **fields}, kind=None)
            assert [a.status for a in delivery.attempts] == [200], event
            assert not delivery.failed, (event, delivery.error)
        click = await follower.click("o_user_2", "MY_ORDERS")
        assert "订单" in click.shown
        scan = await follower.send_event("o_user_2", "scancode_push", "S", ScanCodeInfo={"ScanResult": "ABC"})
        assert "ABC" in scan.shown


@pytest.mark.parametrize("mode", MODES)
async def test_follow_scan_and_unfollow_change_the_follower(migrated: Config, mode: str) -> None:
    async with running(with_mode(migrated, mode)) as shop:
        follower = shop.follower(mode)
        first = await follower.follow("o_fan", scene="spring_poster")
        assert "欢迎关注" in first.shown
        open_database(migrated.database.url, migrated.var_dir)
        row = Follower.get(Follower.openid == "o_fan")
        assert row.subscribed and row.source_scene == "spring_poster"
        assert row.first_followed_at == shop.clock.now()

        scan = await follower.send_event("o_fan", "SCAN", "other_channel", Ticket="T")
        assert not scan.failed
        assert Follower.get(Follower.openid == "o_fan").source_scene == "spring_poster", "first touch wins"

        await follower.unfollow("o_fan")
        gone = Follower.get(Follower.openid == "o_fan")
        assert not gone.subscribed and gone.unfollowed_at == shop.clock.now() and gone.followed_at is None

        shop.clock.advance(days=1)
        again = await follower.follow("o_fan")
        assert "欢迎回来" in again.shown
        assert Follower.get(Follower.openid == "o_fan").first_followed_at == row.first_followed_at


async def test_handshake(migrated: Config) -> None:
    async with running(migrated) as shop:
        good = shop.signed_query(echostr="e123")
        response = await shop.session.get(shop.url, params=good)
        assert response.status == 200 and await response.text() == "e123"

        forged = dict(good, signature="0" * 40)
        assert (await shop.session.get(shop.url, params=forged)).status == 403
        assert (await shop.session.get(shop.url, params={"echostr": "x"})).status == 403


async def test_post_without_a_valid_signature_is_refused(migrated: Config) -> None:
    async with running(migrated) as shop:
        xml = render_xml({"ToUserName": "gh", "FromUserName": "o", "CreateTime": 1, "MsgType": "text", "Content": "x"})
        forged = {"timestamp": "1", "nonce": "2", "signature": "f" * 40}
        assert (await shop.session.post(shop.url, params=forged, data=xml)).status == 403
        assert (await shop.session.post(shop.url, data=xml)).status == 403


async def test_previous_aes_key_still_accepted_and_answered_with_it(migrated: Config) -> None:
    config = with_mode(migrated, "safe")
    import dataclasses

    config = dataclasses.replace(
        config, wechat=dataclasses.replace(config.wechat, previous_encoding_aes_key=OLD_AES_KEY)
    )
    async with running(config) as shop:
        new = await shop.follower("safe", key=AES_KEY).send_text("o_k", "你好")
        old = await shop.follower("safe", key=OLD_AES_KEY).send_text("o_k", "在吗")
        assert not new.failed and not old.failed, (new.error, old.error)
        stranger = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
        refused = await shop.follower("safe", key=stranger).send_text("o_k", "你好")
        assert refused.attempts[0].status == 403 and refused.shown == UNAVAILABLE


async def test_wrong_app_id_or_msg_signature_is_refused(migrated: Config) -> None:
    import dataclasses

    config = with_mode(migrated, "safe")
    async with running(config) as shop:
        other_app = shop.follower("safe")
        other_app.crypto = type(other_app.crypto)(config.wechat.token, AES_KEY, "wx_someone_else")
        refused = await other_app.send_text("o_a", "你好")
        assert refused.attempts[0].status == 403

        wrong_token = dataclasses.replace(shop.follower("safe").account, token="anothertoken")
        follower = shop.follower("safe")
        follower.account = wrong_token
        assert (await follower.send_text("o_a", "你好")).attempts[0].status == 403
