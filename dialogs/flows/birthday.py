"""设置生日: ask for the date, validate it, confirm, save. The template for slot-filling flows."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from dialogs.flows import END, Flow, Step, Turn
from dialogs.understanding.numerals import parse_chinese_number

ASK_DATE = "ASK_DATE"
CONFIRM = "CONFIRM"
YES = {"是", "是的", "确认", "对", "好", "好的", "嗯", "可以", "ok", "yes", "y"}
NO = {"否", "不是", "不对", "不", "重新", "重来", "no", "n"}

_DATE = re.compile(r"(?:(?P<y>(?:19|20)\d\d)[年./\-])?(?P<m>\d{1,2})(?:月|[./\-])(?P<d>\d{1,2})(?:日|号)?")
_CN = "[零〇一二两三四五六七八九十]"
# 三月十五日, 十二月三号, 一九九〇年五月二十: Chinese numerals need 月 between month and day
_DATE_CN = re.compile(rf"(?:{_CN}{{4}}年)?(?P<m>{_CN}{{1,3}})月(?P<d>{_CN}{{1,3}})(?:日|号)?")


def validate_birthday(text: str) -> tuple[int, int] | None:
    """(month, day) from "5月20日", "05-20", "5/20", "1990年5月20日", "五月二十日"…; None when not a real calendar
    date."""
    if found := _DATE.search(text):
        month, day = int(found["m"]), int(found["d"])
    elif found := _DATE_CN.search(text):
        month, day = parse_chinese_number(found["m"]) or 0, parse_chinese_number(found["d"]) or 0
    else:
        return None
    try:
        date(2000, month, day)  # a leap year, so 2月29日 is allowed
    except ValueError:
        return None
    return month, day


def build(save: Callable[[str, int, int], str]) -> Flow:
    """`save(openid, month, day)` stores the birthday and returns what to tell the follower."""

    def entry(turn: Turn) -> Step:
        found = validate_birthday(turn.text)
        if found:
            turn.slots.update(month=found[0], day=found[1])
            return Step(_confirm(turn.slots), CONFIRM)
        return Step(_ask(turn.slots), ASK_DATE)

    def ask_date(turn: Turn) -> Step:
        found = validate_birthday(turn.text)
        if not found:
            return Step.not_understood()
        turn.slots.update(month=found[0], day=found[1])
        return Step(_confirm(turn.slots), CONFIRM)

    def confirm(turn: Turn) -> Step:
        if turn.norm in YES:
            return Step(save(turn.openid, turn.slots["month"], turn.slots["day"]), END)
        if turn.norm in NO:
            return Step("好的，请重新告诉我您的生日，例如“5月20日”。", ASK_DATE)
        found = validate_birthday(turn.text)
        if found:
            turn.slots.update(month=found[0], day=found[1])
            return Step(_confirm(turn.slots), CONFIRM)
        return Step.not_understood()

    return Flow(
        name="birthday",
        title="设置生日",
        entry=entry,
        states={ASK_DATE: ask_date, CONFIRM: confirm},
        prompts={ASK_DATE: _ask, CONFIRM: _confirm},
    )


def _ask(slots: dict) -> str:
    return "请告诉我您的生日，例如“5月20日”。生日当天会收到一份生日礼。"


def _confirm(slots: dict) -> str:
    return f"确认把生日设为{slots['month']}月{slots['day']}日吗？回复“是”或“否”。"
