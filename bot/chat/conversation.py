"""Assembles the dialog engine for a `serve` process and keeps its keyword rules fresh.

The rules are compiled at start-up and recompiled (on the thread pool, off the request path) when a change is
announced on Redis pub/sub, with a periodic version check as the safety net for missed announcements.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from bot.chat.dialog_store import RedisDialogStore
from bot.features import FEATURES, chats, help_lines
from bot.features.base import ChatContext, Feature
from bot.jobs.queue import cancel_scheduler
from bot.process.config import Config
from bot.process.resources import Resources
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from dialogs.engine import Engine, EngineSettings
from dialogs.flows import browse
from dialogs.intents import IntentDetector
from dialogs.replies import ReplyRenderer
from dialogs.rules_cache import RulesCache, channel
from dialogs.unanswered import UnansweredCollector
from dialogs.understanding.cache import UnderstanderCache
from dialogs.understanding.classifier import Thresholds
from store.catalog.spec_cache import SpecCache
from store.catalog.stock_cache import StockCache
from store.chat.nlu import record_unanswered
from store.core.keys import Keys
from store.orders.checkout import ShopRules
from store.profiles.events import EventCollector, flush_events
from store.search.index import SearchIndex, SearchResult, SearchService

log = logging.getLogger("wxshop.conversation")


def catalog_channel(prefix: str) -> str:
    return Keys(prefix).catalog_changed()

ENGINE = web.AppKey("engine", Engine)
DIALOG_STATE = web.AppKey("dialog_state", RedisDialogStore)
RULES = web.AppKey("rules", RulesCache)
UNANSWERED = web.AppKey("unanswered", UnansweredCollector)
EVENTS = web.AppKey("behaviour_events", EventCollector)
UNDERSTANDING = web.AppKey("understanding", UnderstanderCache)
SEARCH = web.AppKey("search", SearchService)
SEARCH_BUILT = web.AppKey("search_built", asyncio.Future)  # the start-up build of the search index
VERSION_CHECK_S = 5.0
WATCHER_STOP_S = 1.0


def build_engine(
    config: Config,
    resources: Resources,
    rules: RulesCache,
    search: SearchService,
    after_order: Callable[[str, datetime], None] | None = None,
    specs: SpecCache | None = None,
    stock: StockCache | None = None,
    understanding: UnderstanderCache | None = None,
    unanswered: UnansweredCollector | None = None,
    events: EventCollector | None = None,
    features: tuple[Feature, ...] = FEATURES,
) -> Engine:
    """The engine with every feature's part of the conversation (`bot.features`). `after_order(order_no,
    expires_at)` schedules the unpaid-order timeout job; without it the worker's minute sweep still cancels
    unpaid orders on time. `specs` and `stock` are the process's copies of SKU specs and of which products have
    stock, cleared when the catalog changes.
    `understanding` is the process's trained model (retrained when operators teach it); `unanswered` collects
    what nobody understood, for the operators' inbox; `events` notes behaviour (searches, cards shown) for the
    member profiles."""
    searched = ChatSearch(search)
    rng = random.Random()
    ctx = ChatContext(
        config=config,
        resources=resources,
        renderer=ReplyRenderer(config.server.public_url),
        search=searched,
        shop_rules=ShopRules.from_settings(config.shop),
        specs=specs or SpecCache(resources.clock.now),
        stock=stock or StockCache(),
        rng=rng,
        after_order=after_order or (lambda order_no, expires_at: None),
        events=events,
    )
    parts = chats(ctx, features)

    def names_products(text: str) -> bool:
        """Every word of the text a product word of the catalog: treat a bare "红色连衣裙" as a search (asked as
        the list's first page, which the browse flow then shows without searching again)."""
        return searched.first(text, browse.PER_PAGE, 0)

    return Engine(
        rules=rules,
        renderer=ctx.renderer,
        flows={name: flow for part in parts for name, flow in part.flows.items()},
        answers={intent: answer for part in parts for intent, answer in part.answers.items()},
        settings=EngineSettings(
            default_reply_interval_s=config.shop.default_reply_interval_minutes * 60,
            shop_name=config.shop.name,
            help_lines=help_lines(features),
        ),
        rng=rng,
        names_products=names_products,
        members=next((part.members for part in parts if part.members is not None), None),
        understander=understanding or understander_for(config, taught=True),
        unanswered=unanswered.note if unanswered is not None else None,
        intents=IntentDetector(tuple(words for part in parts for words in part.intents)),
        menu_keys={key: intent for part in parts for key, intent in part.menu_keys.items()},
        idle_intents=frozenset(intent for part in parts for intent in part.idle_intents),
    )


def dialog_store(config: Config, resources: Resources) -> RedisDialogStore:
    return RedisDialogStore(resources.redis, config.redis.prefix, config.shop.dialog_ttl_minutes * 60)


def understander_for(config: Config, taught: bool = False) -> UnderstanderCache:
    """The configured model; with `taught`, trained on the examples operators taught too (reads the database)."""
    thresholds = Thresholds(config.nlu.min_confidence, config.nlu.min_margin)
    cache = UnderstanderCache(config.nlu.examples_file, thresholds)
    if taught:
        cache.refresh()
    return cache


def flush_unanswered(collector: UnansweredCollector) -> None:
    """Store what the collector holds; on failure keep it for the next beat (the database away a moment). One flush
    at a time, so a flush returns only once everything noted before it is in the store."""
    with collector.flushing:
        batch = collector.drain()
        try:
            record_unanswered(batch)
        except Exception:
            collector.restore(batch)
            raise


class ChatSearch:
    """Chat's searches, each answered once per index: the same words asked again (by this follower in the same
    turn — does a bare "红色连衣裙" name products? then its first page — or by the next follower asking for 连衣裙)
    get the result kept for the index in use. A rebuilt index is a new object, so nothing found in the old one is
    served after a catalog change. Chat replies never show why a hit matched, so hits come without that
    explanation. Bounded: the memory is emptied when it holds `MAX_KEPT` searches."""

    MAX_KEPT = 4096

    def __init__(self, service: SearchService) -> None:
        self.service = service
        self._kept: dict[tuple[bool, str, int, int], tuple[object, SearchResult | None]] = {}

    def first(self, text: str, limit: int, offset: int) -> bool:
        """Whether the text names products confidently (`SearchResult.confident`)."""
        return self._named(self.service.index, text, limit, offset) is not None

    def __call__(self, text: str, limit: int, offset: int) -> SearchResult:
        index = self.service.index
        named = self._kept.get((True, text, limit, offset))
        if named is not None and named[0] is index and named[1] is not None:
            return named[1]  # what `first` found is this page: the same search, confident
        key = (False, text, limit, offset)
        kept = self._kept.get(key)
        if kept is not None and kept[0] is index and kept[1] is not None:
            return kept[1]
        result = index.search(text, limit=limit, offset=offset, explain=False)
        self._keep(key, index, result)
        return result

    def _named(self, index: SearchIndex, text: str, limit: int, offset: int) -> SearchResult | None:
        key = (True, text, limit, offset)
        kept = self._kept.get(key)
        if kept is not None and kept[0] is index:
            return kept[1]
        result = index.named_products(text, limit=limit, offset=offset)
        self._keep(key, index, result)
        return result

    def _keep(self, key: tuple[bool, str, int, int], index: SearchIndex, result: SearchResult | None) -> None:
        kept = self._kept
        if len(kept) >= self.MAX_KEPT:
            kept.clear()
        kept[key] = (index, result)


def setup_conversation(app: web.Application) -> None:
    app.cleanup_ctx.append(_conversation_ctx)


async def _conversation_ctx(app: web.Application) -> AsyncIterator[None]:
    config, resources = app[CONFIG], app[RESOURCES]
    rules = RulesCache()
    await run_blocking(app, rules.refresh)
    search = SearchService(lexicon_file=config.shop.search_lexicon_file)
    specs, stock = SpecCache(resources.clock.now), StockCache()
    understanding, unanswered = understander_for(config), UnansweredCollector()
    await run_blocking(app, understanding.refresh)
    app[RULES], app[SEARCH], app[UNANSWERED], app[UNDERSTANDING] = rules, search, unanswered, understanding
    app[EVENTS] = events = EventCollector()
    app[DIALOG_STATE] = dialog_store(config, resources)
    app[ENGINE] = build_engine(
        config, resources, rules, search, after_order=cancel_scheduler(app), specs=specs, stock=stock,
        understanding=understanding, unanswered=unanswered, events=events,
    )
    # The search index (and jieba's dictionary) loads in the background: start-up stays fast, and the first
    # search waits for it only if it comes before the build is done.
    building = app[SEARCH_BUILT] = asyncio.ensure_future(run_blocking(app, search.rebuild))
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch(app, rules, search, (specs, stock), stop, understanding))
    yield
    stop.set()
    watcher.cancel()
    # Bounded: redis-py's pubsub read can swallow a cancellation that lands as its own read timeout expires, and
    # then wait on its socket; closing the Redis pool (the resources' cleanup, next) ends that read, and `stop`
    # keeps the watcher from starting another.
    done, _ = await asyncio.wait({watcher}, timeout=WATCHER_STOP_S)
    if not done:
        log.warning("rules watcher still stopping; the Redis pool's close will end it")
    with contextlib.suppress(Exception):
        await building
    try:  # what nobody understood since the last beat
        await run_blocking(app, flush_unanswered, unanswered)
    except Exception as exc:
        log.warning("unanswered questions not stored at shutdown", extra={"error": str(exc)})
    try:  # behaviour events since the last beat
        await run_blocking(app, flush_events, events)
    except Exception as exc:
        log.warning("behaviour events not stored at shutdown", extra={"error": str(exc)})


async def _watch(
    app: web.Application,
    rules: RulesCache,
    search: SearchService,
    copies: tuple[SpecCache, StockCache],
    stop: asyncio.Event,
    understanding: UnderstanderCache,
) -> None:
    """Reload rules and retrain the understanding model on announcements (and check their versions every few
    seconds in case one was missed), storing the unanswered questions on the same beat; when the catalog
    changes, drop the copies of SKU specs and stock and rebuild the search index. Runs until `stop` is set."""
    resources = app[RESOURCES]
    prefix = app[CONFIG].redis.prefix
    while not stop.is_set():
        try:
            async with resources.aredis.pubsub() as pubsub:
                await pubsub.subscribe(channel(prefix), catalog_channel(prefix))
                while not stop.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=VERSION_CHECK_S)
                    if message is not None and message.get("channel") == catalog_channel(prefix).encode():
                        for copy in copies:
                            copy.clear()
                        await run_blocking(app, search.rebuild)
                        continue
                    await run_blocking(app, rules.refresh)
                    await run_blocking(app, understanding.refresh)
                    await run_blocking(app, flush_unanswered, app[UNANSWERED])
                    await run_blocking(app, flush_events, app[EVENTS])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis or the database away for a moment: keep serving the rules we have
            if stop.is_set():
                return
            log.warning("rules watcher error, retrying", extra={"error": str(exc)})
            await asyncio.sleep(VERSION_CHECK_S)
