"""Unsubscribe erases personal data and keeps anonymised records (WeChat's rule, store.members.privacy)."""

from __future__ import annotations

from datetime import timedelta

from bot.process.config import Config
from store.after_sales import tickets as after_sales
from store.core.clock import ManualClock
from store.core.db import open_database
from store.members.followers import Follower, record_follow, set_birthday
from store.members.privacy import forget_follower


def ticket(openid: str, status: str, case_no: str, now) -> after_sales.Ticket:
    return after_sales.Ticket.create(
        case_no=case_no, order_no="O" + case_no, openid=openid, kind=after_sales.RETURN, reason="尺码不合适，电话138",
        photos='[{"media_id": "m1", "url": "http://img/x.jpg"}]', status=status, created_at=now,
        due_at=now + timedelta(hours=48),
    )  # fmt: skip


def test_forget_follower(migrated: Config) -> None:
    clock = ManualClock()
    open_database(migrated.database.url, migrated.var_dir)
    record_follow("o_p", clock.now(), "poster")
    set_birthday("o_p", 5, 20, clock.now())
    closed = ticket("o_p", after_sales.REFUSED, "A1", clock.now())
    open_ = ticket("o_p", after_sales.OPEN, "A2", clock.now())
    other = ticket("o_q", after_sales.REFUSED, "A3", clock.now())

    removed = forget_follower("o_p", clock.now())

    follower = Follower.get(Follower.openid == "o_p")
    assert not follower.subscribed and follower.birthday is None and follower.birthday_set_at is None
    assert removed["tickets"] == 1
    assert after_sales.Ticket.get_by_id(closed.id).photos == "[]"
    assert "138" not in after_sales.Ticket.get_by_id(closed.id).reason
    assert after_sales.Ticket.get_by_id(open_.id).photos != "[]", "an open ticket still needs its photos"
    assert after_sales.Ticket.get_by_id(other.id).reason.startswith("尺码"), "other followers are untouched"
