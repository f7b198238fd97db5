"""What a feature declares, and what it is given to build its part of the conversation.

A feature is one module in this package with one `FEATURE`: its flows, the answers to its intents, the words
for those intents, its menu keys and help line (the conversation); its job functions and cron entries (the
worker). `bot.features.FEATURES` lists them, and the engine, the worker and 帮助 are assembled by walking it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arq.cron import CronJob

from bot.process.config import Config
from bot.process.resources import Resources
from dialogs.engine import IntentAnswer, MemberHooks
from dialogs.flows import Flow
from dialogs.intents import IntentWords
from dialogs.replies import ReplyRenderer
from store.catalog.spec_cache import SpecCache
from store.catalog.stock_cache import StockCache
from store.orders.checkout import ShopRules
from store.profiles.events import EventCollector
from store.search.index import SearchResult

Search = Callable[[str, int, int], SearchResult]


@dataclass(frozen=True)
class ChatContext:
    """What a feature's conversation part may use, built once per process by `bot.chat.conversation`."""

    config: Config
    resources: Resources
    renderer: ReplyRenderer
    search: Search
    shop_rules: ShopRules
    specs: SpecCache
    stock: StockCache
    rng: random.Random
    after_order: Callable[[str, datetime], None]  # schedules the unpaid-order timeout
    events: EventCollector | None = None  # behaviour events (searches, cards shown), stored on the process's beat

    @property
    def now(self) -> Callable[[], datetime]:
        return self.resources.clock.now


@dataclass(frozen=True)
class Chat:
    """A feature's part of the conversation."""

    flows: Mapping[str, Flow] = field(default_factory=dict)
    answers: Mapping[str, IntentAnswer] = field(default_factory=dict)
    intents: tuple[IntentWords, ...] = ()  # words for intents the built-in table does not know
    menu_keys: Mapping[str, str] = field(default_factory=dict)  # CLICK key → intent
    members: MemberHooks | None = None  # the follow gift and the birthday greeting (one feature gives them)
    idle_intents: frozenset[str] = frozenset()  # its intents heard only when no flow is asking (bare numbers)


@dataclass(frozen=True)
class Feature:
    name: str
    help: str = ""  # its line in 帮助 ("查订单：回复“我的订单”"), in FEATURES order
    chat: Callable[[ChatContext], Chat] | None = None
    jobs: tuple[Callable[..., Any], ...] = ()  # arq job functions the worker runs
    cron: Callable[[Config], list[CronJob]] | None = None  # when the worker runs some of them
