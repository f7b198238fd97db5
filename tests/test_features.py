"""Features register themselves: the engine, 帮助 and the worker are assembled from `bot.features.FEATURES`, and
a new feature is one declaration (its flow, intent words, menu key, help line, jobs), nothing else to edit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from bot.chat.conversation import build_engine
from bot.features import FEATURES, cron_entries, help_lines, job_functions
from bot.features.base import Chat, ChatContext, Feature
from bot.process.config import Config
from bot.process.resources import Resources, open_resources
from dialogs.engine import HUMAN_HELP, Engine, Said, Tapped
from dialogs.flows import END, Flow, Step, Turn
from dialogs.rules_cache import RulesCache
from dialogs.state import Snapshot
from store.core.clock import SHANGHAI, ManualClock
from store.search.index import SearchService

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=SHANGHAI)


def gift_wrap(ctx: ChatContext) -> Chat:
    """A feature the shop does not have: 礼品包装, a one-question flow."""

    def entry(turn: Turn) -> Step:
        return Step("要哪种包装纸？回复“红色”或“金色”。", "PAPER")

    def paper(turn: Turn) -> Step:
        return Step(f"好的，{turn.text}包装纸。", END) if turn.norm in ("红色", "金色") else Step.not_understood()

    flow = Flow("gift_wrap", "礼品包装", entry, {"PAPER": paper}, {"PAPER": lambda slots: "回复“红色”或“金色”。"})
    return Chat(
        flows={"gift_wrap": flow}, intents=(("gift_wrap", "contains", 61, ("礼品包装", "包装成礼物")),),
        menu_keys={"GIFT_WRAP": "gift_wrap"},
    )  # fmt: skip


async def wrap_job(ctx: dict) -> None:
    return None


GIFT_WRAP = Feature("gift_wrap", help="礼品包装：回复“礼品包装”", chat=gift_wrap, jobs=(wrap_job,))


@pytest.fixture
def resources(migrated: Config) -> Iterator[Resources]:
    opened = open_resources(migrated, ManualClock(NOW))
    yield opened
    opened.close_sync()


def engine_with(config: Config, resources: Resources, features: tuple[Feature, ...]) -> Engine:
    return build_engine(config, resources, RulesCache(), SearchService(), features=features)


def test_help_lists_each_feature_in_order_then_a_human(migrated: Config, resources: Resources) -> None:
    engine = engine_with(migrated, resources, FEATURES)
    result = engine.turn(Snapshot("o-help"), Said("帮助"), NOW)
    assert result is not None
    lines = result.answer.text.splitlines()
    assert lines[0] == "我可以帮您："
    assert lines[1:] == [f"· {line}" for line in (*help_lines(), HUMAN_HELP)]
    assert any("查订单" in line for line in lines) and any("设置生日" in line for line in lines)


def test_a_new_feature_is_one_declaration(migrated: Config, resources: Resources) -> None:
    engine = engine_with(migrated, resources, (*FEATURES, GIFT_WRAP))
    asked = engine.turn(Snapshot("o-wrap"), Said("我想要礼品包装"), NOW)
    assert asked is not None and asked.answer.text.startswith("要哪种包装纸")
    assert asked.dialog is not None and asked.dialog.flow == "gift_wrap"
    tapped = engine.turn(Snapshot("o-wrap"), Tapped("GIFT_WRAP"), NOW)
    assert tapped is not None and tapped.dialog is not None and tapped.dialog.flow == "gift_wrap"
    helped = engine.turn(Snapshot("o-wrap"), Said("帮助"), NOW)
    assert helped is not None and "· 礼品包装：回复“礼品包装”" in helped.answer.text
    assert wrap_job in job_functions((*FEATURES, GIFT_WRAP))
    without = engine_with(migrated, resources, FEATURES).turn(Snapshot("o-wrap"), Said("我想要礼品包装"), NOW)
    assert without is not None and (without.dialog is None or without.dialog.flow != "gift_wrap")


def test_the_worker_runs_what_every_feature_declares(config: Config) -> None:
    functions = job_functions()
    names = [f.__name__ for f in functions]
    assert len(names) == len(set(names)), "two jobs share a name: arq would run only one"
    entries = cron_entries(config)
    assert len({e.name for e in entries}) == len(entries)
    assert {e.coroutine for e in entries} <= set(functions), "a cron entry whose job the worker does not know"
    expected = {"heartbeat", "order-timeouts", "member-birthdays", "after-sales", "shop-metrics", "parcel-polling"}
    assert expected <= {e.name for e in entries}
