"""Every kind of message and event WeChat pushes, replayed from `tests/data/inbound/` (written from WeChat's
documentation, odd payloads included) through signed HTTP in all three modes: each is answered 200 at once,
with a reply under `answered/` and with nothing under `silent/`. Plus what an event's payload decides: its dedup
key (`MsgID`), and a result that must not be lost to a neighbour in the same second."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.process.config import Config
from bot.wechat.inbound import dedup_key, parse_xml, to_message
from store.core.db import open_database
from store.outbox.kinds import Priority
from store.outbox.notices import DELIVERED, FAILED, Notice, Outcomes, claim_due, enqueue_notice, record_outcomes
from tests.gateway_support import running, with_mode
from tests.outbox_support import FIELDS

CORPUS = Path(__file__).parent / "data" / "inbound"
SAMPLES = sorted(CORPUS.glob("*/*.xml"))
SAMPLE_OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
SAMPLE_ACCOUNT = "gh_e136c6e50636"
MODES = ["plain", "compatible", "safe"]
NORMAL_PATH_S = 1.0  # far under the reply deadline: nothing waited for it


def sample(path: Path, openid: str, account: str) -> str:
    """The sample as our account would receive it, from its own follower (so no two share dialog state)."""
    return path.read_text(encoding="utf-8").replace(SAMPLE_OPENID, openid).replace(SAMPLE_ACCOUNT, account)


def counter(metrics: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.search(rf"^{name}{{{re.escape(wanted)}}} (\S+)$", metrics, re.M)
    return float(found.group(1)) if found else 0.0


def test_the_corpus_covers_every_kind() -> None:
    names = {path.stem for path in SAMPLES}
    kinds = ["text", "image", "voice_recognition", "video", "shortvideo", "location", "link", "file"]
    kinds += ["event_subscribe", "event_subscribe_qrscene", "event_unsubscribe", "event_SCAN", "event_LOCATION"]
    kinds += ["event_CLICK", "event_VIEW", "event_view_miniprogram", "event_scancode_push", "event_scancode_waitmsg"]
    kinds += ["event_pic_sysphoto", "event_pic_photo_or_album_count_over", "event_pic_photo_or_album_empty"]
    kinds += ["event_pic_weixin", "event_location_select", "event_TEMPLATESENDJOBFINISH", "event_MASSSENDJOBFINISH"]
    kinds += ["event_kf_create_session", "event_kf_close_session", "event_kf_switch_session"]
    kinds += ["event_user_pay_from_pay_cell", "event_user_get_card", "device_event_bind", "event_unknown"]
    assert set(kinds) <= names, set(kinds) - names
    for path in SAMPLES:
        assert to_message(parse_xml(path.read_bytes()), path.read_text()).source == SAMPLE_OPENID, path.name


@pytest.mark.parametrize("mode", MODES)
async def test_every_sample_is_answered_at_once_and_only_where_a_reply_makes_sense(migrated: Config, mode: str) -> None:
    async with running(with_mode(migrated, mode)) as shop:
        follower = shop.follower(mode)
        metrics_url = shop.server.make_url("/metrics")
        before = await (await shop.session.get(metrics_url)).text()
        for path in SAMPLES:
            name = f"{path.parent.name}/{path.stem}"
            xml = sample(path, f"o_{path.stem}", migrated.wechat.original_id)
            is_event = "device_" in path.stem or "<MsgType><![CDATA[event]]>" in xml
            delivery = await follower.deliver(xml, f"o_{path.stem}", is_user_message=not is_event)
            assert [a.status for a in delivery.attempts] == [200], name
            assert delivery.attempts[0].elapsed_s < NORMAL_PATH_S, name
            assert not delivery.failed, (name, delivery.error)
            if path.parent.name == "answered":
                assert delivery.reply is not None and delivery.shown.strip(), name
            else:
                assert delivery.reply is None and delivery.attempts[0].body in ("", "success"), name
        after = await (await shop.session.get(metrics_url)).text()
        for reason in ("bad message", "bad encryption"):
            assert counter(after, "wxshop_rejected_total", reason=reason) == counter(
                before, "wxshop_rejected_total", reason=reason
            ), reason


def message_of(path: str, **changes: str) -> object:
    xml = (CORPUS / path).read_text(encoding="utf-8")
    for old, new in changes.items():
        xml = xml.replace(old, new)
    return to_message(parse_xml(xml.encode()), xml)


def test_events_with_a_msgid_dedup_on_it_and_the_rest_on_sender_time_and_key() -> None:
    first = message_of("silent/event_TEMPLATESENDJOBFINISH.xml")
    neighbour = message_of("silent/event_TEMPLATESENDJOBFINISH.xml", **{"200163836": "200163837"})
    assert dedup_key(first) != dedup_key(neighbour), "same follower, same second, another template"
    assert dedup_key(first) == dedup_key(message_of("silent/event_TEMPLATESENDJOBFINISH.xml")), "a retry"
    mass = message_of("silent/event_MASSSENDJOBFINISH.xml")
    other_mass = message_of("silent/event_MASSSENDJOBFINISH.xml", **{"1000001625": "1000001626"})
    assert dedup_key(mass) != dedup_key(other_mass)
    click = message_of("answered/event_CLICK.xml")
    assert dedup_key(click) == f"e:{SAMPLE_OPENID}:1348831874:click_event:MY_ORDERS"
    assert dedup_key(message_of("answered/text.xml")) == f"m:{SAMPLE_OPENID}:1234567890123456"


async def test_two_template_results_for_one_follower_in_one_second_are_both_recorded(migrated: Config) -> None:
    async with running(with_mode(migrated, "safe")) as shop:
        now = shop.clock.now()
        open_database(migrated.database.url, migrated.var_dir)
        notices = [
            enqueue_notice("o_twice", kind, FIELDS[kind], Priority.TRANSACTIONAL, now) for kind in ("paid", "shipped")
        ]
        claimed = claim_due(now, 10, "w/1", timedelta(minutes=5))
        assert {n.id for n in claimed} >= set(notices)
        record_outcomes("w/1", Outcomes(sent_template={notices[0]: 7000000001, notices[1]: 7000000002}), now)
        follower = shop.follower("safe")
        pushed = []
        for msgid, status in ((7000000001, "success"), (7000000002, "failed:user block")):
            event = {"MsgType": "event", "Event": "TEMPLATESENDJOBFINISH", "MsgID": msgid, "Status": status}
            xml = follower.build_xml("o_twice", event)
            pushed.append(re.search(r"<CreateTime>(\d+)<", xml).group(1))
            delivery = await follower.deliver(xml, "o_twice", is_user_message=False)
            assert [a.status for a in delivery.attempts] == [200] and delivery.reply is None
        assert pushed[0] == pushed[1], "the same second"
        rows = {row.msgid: (row.status, row.delivery_status) for row in Notice.select().where(Notice.id << notices)}
        assert rows == {7000000001: (DELIVERED, "success"), 7000000002: (FAILED, "failed:user block")}
