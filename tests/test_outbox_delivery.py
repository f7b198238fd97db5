"""TEMPLATESENDJOBFINISH through the real callback: the emulator pushes the signed event to the shop app's
/wechat, the handler records it, and the notice sent as that msgid becomes delivered or failed — also when the
push beats the dispatcher's own bookkeeping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.process.config import Config
from store.core.clock import ManualClock
from store.core.db import close_database, open_database
from store.outbox.kinds import Priority
from store.outbox.notices import (
    DELIVERED,
    FAILED,
    TEMPLATE,
    Notice,
    Outcomes,
    TemplateReceipt,
    claim_due,
    enqueue_notice,
    record_outcomes,
    record_template_result,
)
from tests.gateway_support import running, with_mode
from tests.outbox_support import FIELDS, outbox_config, outbox_rig, queue


async def test_the_finish_push_marks_notices_delivered_or_failed(migrated: Config) -> None:
    clock = ManualClock()
    config = with_mode(outbox_config(migrated), "plain")
    async with running(config, clock=clock) as shop:
        options = {"token": config.wechat.token, "original_id": config.wechat.original_id}
        async with outbox_rig(config, clock=clock, callback_url=shop.url, **options) as rig:
            rig.world.follow("o_ok")
            rig.world.follow("o_blocks")
            rig.world.block_templates("o_blocks")
            clock.advance(minutes=2)
            ok = queue("o_ok", "paid", clock.now())
            blocked = queue("o_blocks", "shipped", clock.now())
            await rig.drain()
            pushes = await rig.state.drain_pushes()
            assert [p.delivered for p in pushes] == [True, True], pushes
            delivered, refused = rig.notice(ok), rig.notice(blocked)
            assert (delivered.status, delivered.channel, delivered.delivery_status) == (DELIVERED, TEMPLATE, "success")
            assert (refused.status, refused.delivery_status) == (FAILED, "failed:user block")
            assert delivered.finished_at == clock.now()
            assert TemplateReceipt.select().count() == 0
            assert [d.kind for d in rig.world.delivered("o_blocks")] == [], "a blocked follower sees nothing"


@pytest.fixture
def db(migrated: Config) -> Iterator[Config]:
    open_database(migrated.database.url, migrated.var_dir)
    yield migrated
    close_database()


@pytest.mark.parametrize("push_first", [True, False])
def test_a_result_is_applied_whichever_comes_first(db: Config, push_first: bool) -> None:
    clock = ManualClock()
    notice = enqueue_notice("o_a", "paid", FIELDS["paid"], Priority.TRANSACTIONAL, clock.now())
    [claimed] = claim_due(clock.now(), 10, "w/1", timedelta(minutes=5))
    assert claimed.id == notice
    if push_first:
        assert record_template_result(3000000007, "failed:user block", clock.now()) is False
    record_outcomes("w/1", Outcomes(sent_template={notice: 3000000007}), clock.now())
    if not push_first:
        assert record_template_result(3000000007, "failed:user block", clock.now()) is True
    row = Notice.get_by_id(notice)
    assert (row.status, row.msgid, row.delivery_status) == (FAILED, 3000000007, "failed:user block")
    assert TemplateReceipt.select().count() == 0
