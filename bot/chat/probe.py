"""What the dialog engine answers to a text when no keyword rule does (`wxshop keywords test`).

The answer comes from the real engine, assembled as `serve` assembles it, for a follower with no conversation
going, no orders and nothing else: so an operator sees the built-in intent, search or fallback that will answer,
and its reply, as a new follower would get it. Nothing of the turn is kept: the state write is left unsent, the
database changes (a search's exposures) are rolled back and the probe follower's keys are deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.chat.conversation import build_engine, dialog_store
from bot.process.config import Config
from bot.process.resources import Resources
from dialogs.engine import Said
from dialogs.intents import GLOBAL
from dialogs.normalize import normalize
from dialogs.replies import Answer, Message, Text
from dialogs.rules_cache import RulesCache
from dialogs.state import TurnResult, snapshot_of
from store.core.db import database
from store.search.index import SearchService

PROBE_OPENID = "wxshop-keywords-test"


@dataclass(frozen=True)
class EngineAnswer:
    step: str  # which step of the engine's ladder answers, in words
    answer: Answer


def probe(config: Config, resources: Resources, text: str) -> EngineAnswer:
    rules = RulesCache()
    rules.refresh()
    engine = build_engine(config, resources, rules, SearchService())
    now = resources.clock.now()
    try:
        with database.atomic() as transaction:
            result = engine.turn(snapshot_of(PROBE_OPENID, [None] * 4, now), Said(text), now)
            transaction.rollback()
    finally:
        dialog_store(config, resources).forget(PROBE_OPENID)  # a flow step may have written its cart
    assert isinstance(result, TurnResult)  # a text always gets a turn
    answer: Answer = result.answer
    intent = engine.intents.detect(text, normalize(text), now)
    state = vars(result.dialog) if result.dialog is not None and not result.dialog.idle else {}
    seen = engine.understander.understand(text) if engine.understander is not None else None
    if intent is None and seen is not None and seen.sure and state.get("flow") != "browse":
        confidence = seen.prediction.confidence
        step = f"the understanding layer: intent “{seen.prediction.intent}” ({confidence:.0%} sure)"
    elif intent is not None:
        kind = "global word" if intent.name in GLOBAL else "built-in intent"
        step = f"{kind} “{intent.name}”" + (f" (search for “{intent.argument}”)" if intent.argument else "")
    elif state.get("flow") == "browse":
        step = "a catalog search (every word names products)"
    elif state.get("misses"):
        step = "the fallback's clarifying question (a second unclear message gets the default reply)"
    else:
        step = "the dialog engine"
    return EngineAnswer(step, answer)


def describe(answer: Answer) -> list[str]:
    """The answer as lines for a terminal: the passive reply, then each follow-up message."""
    lines = []
    if answer.transfer:
        lines.append("reply: hands the conversation to a human agent (transfer_customer_service)")
    if answer.reply is not None:
        lines.append(f"reply: {_shown(answer.reply)}")
    lines += [f"then: {_shown(followup)}" for followup in answer.followups]
    if not lines:
        lines.append("reply: none (the bot stays silent)")
    return lines


def _shown(message: Message) -> str:
    if isinstance(message, Text):
        return message.content
    return json.dumps([vars(article) for article in message.articles], ensure_ascii=False)
