"""The outbox table: a notice commits or rolls back with the business change that causes it, repeats are one
notice by `dedup_key`, malformed notices fail at the source, and a claim hands each notice to one batch."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.process.config import Config
from store.core.clock import ManualClock
from store.core.db import close_database, open_database, write_transaction
from store.members.followers import Follower, record_follow
from store.outbox.kinds import Priority, UnknownNoticeKind
from store.outbox.notices import PENDING, SENDING, Notice, claim_due, enqueue_notice, record_template_result
from store.outbox.template_lint import TemplateLintError
from tests.outbox_support import FIELDS

CLOCK = ManualClock()


@pytest.fixture
def db(migrated: Config) -> Iterator[None]:
    open_database(migrated.database.url, migrated.var_dir)
    yield
    close_database()


def test_a_notice_commits_and_rolls_back_with_its_cause(db: None) -> None:
    now = CLOCK.now()
    with write_transaction():
        record_follow("o_a", now)
        notice_id = enqueue_notice("o_a", "paid", FIELDS["paid"], Priority.TRANSACTIONAL, now)
    row = Notice.get_by_id(notice_id)
    assert (row.status, row.kind, row.priority, row.due_at, row.attempts) == (PENDING, "paid", 1, now, 0)
    assert row.values() == FIELDS["paid"] and row.client_msg_id == f"wxshop-{notice_id}"

    with pytest.raises(RuntimeError), write_transaction():
        record_follow("o_b", now)
        enqueue_notice("o_b", "paid", FIELDS["paid"], Priority.TRANSACTIONAL, now)
        raise RuntimeError("the payment could not be recorded")
    assert not Follower.select().where(Follower.openid == "o_b").exists()
    assert Notice.select().count() == 1


def test_a_dedup_key_makes_a_repeat_the_same_notice(db: None) -> None:
    now = CLOCK.now()
    first = enqueue_notice("o_a", "paid", FIELDS["paid"], Priority.TRANSACTIONAL, now, dedup_key="paid:WX1")
    with write_transaction():  # a retried payment notice inside its own transaction: no error, same id
        again = enqueue_notice("o_a", "paid", FIELDS["paid"], Priority.TRANSACTIONAL, now, dedup_key="paid:WX1")
        Follower.create(openid="o_a", created_at=now)
    assert again == first
    assert Notice.select().count() == 1 and Follower.select().count() == 1


def test_malformed_notices_fail_loudly_at_enqueue(db: None) -> None:
    now = CLOCK.now()
    with pytest.raises(UnknownNoticeKind):
        enqueue_notice("o_a", "coupon_blast", {}, Priority.MEMBER_CARE, now)
    with pytest.raises(TemplateLintError) as info:
        enqueue_notice("o_a", "paid", {**FIELDS["paid"], "amount": "199", "goods": "限时秒杀连衣裙"}, 1, now)
    assert "paid notice: goods: marketing wording 限时/秒杀" in str(info.value)
    with pytest.raises(TemplateLintError, match="paid_at: missing"):
        enqueue_notice("o_a", "paid", {k: v for k, v in FIELDS["paid"].items() if k != "paid_at"}, 1, now)
    with pytest.raises(TemplateLintError, match="colour: not a field of paid"):
        enqueue_notice("o_a", "paid", {**FIELDS["paid"], "colour": "红"}, 1, now)
    # a reminder that only goes out as a customer-service message may speak of coupons
    enqueue_notice("o_a", "gift_reminder", {"expires_at": "2026-11-25 10:00"}, Priority.MEMBER_CARE, now)
    assert Notice.select().count() == 1


def test_concurrent_claims_never_share_a_notice(db: None) -> None:
    now = CLOCK.now()
    with write_transaction():
        for i in range(120):
            enqueue_notice(f"o_{i}", "paid", FIELDS["paid"], Priority.TRANSACTIONAL, now)
    claims: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def claimer(name: str) -> None:
        barrier.wait()
        mine: list[int] = []
        for round_ in range(10):
            mine += [c.id for c in claim_due(now, 7, f"{name}/{round_}", timedelta(minutes=5))]
        claims[name] = mine

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for ids in claims.values() for i in ids]
    assert len(every) == len(set(every)) == 120
    assert Notice.select().where(Notice.status == SENDING).count() == 120


def test_claims_go_by_priority_then_age(db: None) -> None:
    now = CLOCK.now()
    care = enqueue_notice("o_a", "birthday", FIELDS["birthday"], Priority.MEMBER_CARE, now - timedelta(hours=1))
    paid = enqueue_notice("o_b", "paid", FIELDS["paid"], Priority.TRANSACTIONAL, now)
    later = enqueue_notice("o_c", "paid", FIELDS["paid"], Priority.TRANSACTIONAL, now + timedelta(minutes=1))
    tier = enqueue_notice("o_d", "tier_change", FIELDS["tier_change"], Priority.SERVICE, now)
    assert [c.id for c in claim_due(now, 10, "w/1", timedelta(minutes=5))] == [paid, tier, care]
    assert Notice.get_by_id(later).status == PENDING, "not due yet"


def test_a_template_result_before_its_send_is_recorded_is_kept(db: None) -> None:
    assert record_template_result(3000000001, "success", CLOCK.now()) is False
    assert record_template_result(3000000001, "success", CLOCK.now()) is False  # WeChat's retry: harmless
