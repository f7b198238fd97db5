"""The engine's turn as a pure function: a snapshot and a message in, an answer and the changes out.

No Redis and no database: the flows here are the real birthday flow (its save is a list) and the engine's own
ladder; `tests/test_engine.py` drives the same engine through signed WeChat XML.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from dialogs.engine import (
    CLARIFY,
    DEFAULT_REPLY,
    HELP,
    HUMAN_SESSION,
    OFFER_HUMAN,
    Engine,
    EngineSettings,
    Photo,
    Said,
    Tapped,
)
from dialogs.flows import birthday
from dialogs.replies import Answer, Article, News, ReplyRenderer, Text
from dialogs.rules_cache import RulesCache
from dialogs.state import DialogState, Snapshot, TurnResult, decode, encode, snapshot_of
from store.core.clock import SHANGHAI

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=SHANGHAI)
OPENID = "o-turn"


@pytest.fixture
def saved() -> list[tuple[str, int, int]]:
    return []


@pytest.fixture
def engine(saved: list[tuple[str, int, int]]) -> Engine:
    def save(openid: str, month: int, day: int) -> str:
        saved.append((openid, month, day))
        return f"已设为{month}月{day}日。"

    return Engine(
        rules=RulesCache(),  # never refreshed: no keyword rules, no database
        renderer=ReplyRenderer("https://shop.example"),
        flows={"birthday": birthday.build(save)},
        answers={},
        settings=EngineSettings(default_reply_interval_s=3600, shop_name="测试小店"),
    )


def said(engine: Engine, snap: Snapshot, text: str, now: datetime = NOW) -> TurnResult:
    result = engine.turn(snap, Said(text), now)
    assert result is not None
    return result


def after(snap: Snapshot, result: TurnResult) -> Snapshot:
    """The next message's snapshot, as the store would read it back."""
    dialog = result.dialog if result.dialog is not None else snap.dialog
    return replace(snap, dialog=decode(encode(dialog)) or DialogState(), greeting=False, stored=True)


def test_a_flow_runs_from_entry_to_end(engine: Engine, saved: list) -> None:
    snap = Snapshot(OPENID)
    first = said(engine, snap, "设置生日")
    assert first.dialog is not None and (first.dialog.flow, first.dialog.state) == ("birthday", birthday.ASK_DATE)
    second = said(engine, after(snap, first), "5月20日")
    assert "5月20日" in second.answer.text and second.dialog.state == birthday.CONFIRM
    third = said(engine, after(snap, second), "是")
    assert third.answer.text == "已设为5月20日。" and third.dialog.idle
    assert saved == [(OPENID, 5, 20)]


def test_back_returns_to_the_previous_question_and_cancel_leaves(engine: Engine) -> None:
    snap = Snapshot(OPENID)
    at_first = said(engine, snap, "设置生日")
    first_step = said(engine, after(snap, at_first), "返回")
    assert first_step.answer.text.startswith("已经是第一步了") and first_step.dialog.state == birthday.ASK_DATE
    at_confirm = said(engine, after(snap, at_first), "5月20日")
    assert at_confirm.dialog.state == birthday.CONFIRM
    back = said(engine, after(snap, at_confirm), "返回")
    assert back.dialog.state == birthday.ASK_DATE and "生日" in back.answer.text
    cancelled = said(engine, after(snap, back), "取消")
    assert cancelled.answer.text == "已取消“设置生日”。" and cancelled.dialog.idle


def test_help_answers_and_the_flow_resumes(engine: Engine) -> None:
    snap = after(Snapshot(OPENID), said(engine, Snapshot(OPENID), "设置生日"))
    helped = said(engine, snap, "帮助")
    assert helped.answer.text.startswith(HELP) and "继续“设置生日”" in helped.answer.text
    assert helped.dialog.flow == "birthday"


def test_an_expired_flow_is_named_on_the_next_message(engine: Engine) -> None:
    stale = encode(DialogState(flow="birthday", state="ASK_DATE", expires_at=1.0))
    snap = snapshot_of(OPENID, [stale, None, None, None], NOW)
    assert snap.expired_flow == "birthday" and not snap.dialog.active
    result = said(engine, snap, "你好")
    assert result.answer.text.startswith("刚才的“设置生日”已超时结束。")


def test_fallback_clarifies_then_gives_the_default_reply_once_per_interval(engine: Engine) -> None:
    snap = Snapshot(OPENID)
    first = said(engine, snap, "虫洞折叠")
    assert first.answer.text == CLARIFY and first.dialog.misses == 1 and not first.default_reply_for_s
    second = said(engine, after(snap, first), "虫洞折叠")
    assert second.answer.text == DEFAULT_REPLY and second.default_reply_for_s == 3600
    marked = replace(after(snap, second), last_default_reply=NOW.timestamp())
    third = said(engine, marked, "虫洞折叠", NOW + timedelta(minutes=5))
    assert third.answer.text == OFFER_HUMAN and not third.default_reply_for_s
    later = said(engine, marked, "虫洞折叠", NOW + timedelta(hours=2))
    assert later.answer.text == DEFAULT_REPLY


def test_asking_for_a_human_transfers_and_holds_the_conversation(engine: Engine) -> None:
    result = said(engine, Snapshot(OPENID), "人工")
    assert result.answer.transfer and result.human_until == (NOW + HUMAN_SESSION).timestamp()
    held = Snapshot(OPENID, human_until=result.human_until)
    silent = said(engine, held, "在吗", NOW + timedelta(minutes=10))
    assert silent.answer.silent and silent.dialog is None  # the stored state is left as it is
    assert silent.human_until == (NOW + timedelta(minutes=10) + HUMAN_SESSION).timestamp()


def test_menu_taps_route_like_words_and_unknown_keys_change_nothing(engine: Engine) -> None:
    unknown = engine.turn(Snapshot(OPENID), Tapped("NO_SUCH_KEY"), NOW)
    assert unknown is not None and "暂时没有内容" in unknown.answer.text and unknown.dialog is None
    human = engine.turn(Snapshot(OPENID), Tapped("HUMAN"), NOW)
    assert human is not None and not human.answer.transfer and not human.human_until


def test_a_photo_no_flow_takes_is_left_to_the_media_handler(engine: Engine) -> None:
    assert engine.turn(Snapshot(OPENID), Photo("media-1"), NOW) is None
    in_birthday = after(Snapshot(OPENID), said(engine, Snapshot(OPENID), "设置生日"))
    assert engine.turn(in_birthday, Photo("media-1"), NOW) is None  # the birthday flow takes no images


def test_a_waiting_greeting_is_taken_with_the_turn(engine: Engine) -> None:
    result = said(engine, Snapshot(OPENID, greeting=True), "你好")
    assert result.greeting_taken
    assert not said(engine, Snapshot(OPENID), "你好").greeting_taken


def test_a_record_of_another_version_is_dropped_not_half_read() -> None:
    assert decode('{"v": 99, "flow": "birthday"}') is None
    assert decode("not json") is None
    assert decode('{"v": 1, "unknown_field": 1}') is None
    snap = snapshot_of(OPENID, [b'{"v": 99}', b"0", None, b"1"], NOW)
    assert not snap.dialog.active and snap.stored and snap.greeting and not snap.human_until


def test_replies_are_typed_messages_whatever_shorthand_built_them() -> None:
    card = ("连衣裙", "¥199", "https://img.example/1.jpg", "https://shop.example/p/1")
    answer = Answer("你好", ({"type": "text", "content": "再见"}, [card], {"type": "text", "content": ""}))
    assert answer.reply == Text("你好") and answer.text == "你好"
    assert answer.followups == (Text("再见"), News((Article(*card),)))  # the empty text is dropped
    assert Answer([card]).text == "" and Answer().silent
    with pytest.raises(TypeError):
        Answer(42)  # type: ignore[arg-type]


def test_an_operators_later_replies_all_go_out_as_follow_ups() -> None:
    """"all" mode: the first payload is the reply, every later one a follow-up, a coupon's text included (a
    payload without `content` used to be dropped on its way to customer service)."""
    renderer = ReplyRenderer("https://shop.example")
    payloads = ({"type": "text", "content": "欢迎"}, {"type": "coupon", "code": "NEW10"}, {"type": "unknown"})
    answer = renderer.answer(payloads, "all", random.Random(1))
    assert answer.reply == Text("欢迎")
    assert answer.followups == (Text("送您一张优惠券：NEW10。回复“我的优惠券”查看。"),)
