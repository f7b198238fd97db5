"""What the bot would say to a text, and why (`wxshop keywords test`, the console's rule editor).

A keyword rule that matches answers unless a built-in comes first: the global words (转人工, 取消) always do, and
a built-in that reads the follower's own data (查订单, 查快递) does unless the rule overrides it. When no rule
answers, the answer comes from the real engine, assembled as `serve` assembles it, for a follower with no
conversation going, no orders and nothing else: so an operator sees the built-in intent, search or fallback that
will answer, and its reply, as a new follower would get it. Nothing of the turn is kept: the state write is left
unsent, the database changes (a search's exposures) are rolled back and the probe follower's keys are deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.chat.conversation import build_engine, dialog_store
from bot.process.config import Config
from bot.process.resources import Resources
from dialogs.engine import Engine, Said
from dialogs.intents import GLOBAL, OWN_DATA, IntentDetector
from dialogs.matcher import Match
from dialogs.normalize import normalize
from dialogs.replies import Answer, Message, Text
from dialogs.rules_cache import CompiledRules, RulesCache
from dialogs.state import TurnResult, snapshot_of
from dialogs.understanding.cache import UnderstanderCache
from store.chat.keywords import RuleRecord
from store.core.db import database
from store.search.index import SearchService

PROBE_OPENID = "wxshop-keywords-test"


@dataclass(frozen=True)
class EngineAnswer:
    """Which step of the engine's ladder answers (`kind`: understanding, global, builtin, search, clarify,
    engine), with the intent, its argument (a search's words) and the model's confidence where they apply."""

    kind: str
    answer: Answer
    intent: str | None = None
    argument: str | None = None
    confidence: float | None = None

    @property
    def step(self) -> str:
        """The step in words, for a terminal."""
        if self.kind == "understanding":
            return f"the understanding layer: intent “{self.intent}” ({self.confidence or 0:.0%} sure)"
        if self.kind in ("global", "builtin"):
            kind = "global word" if self.kind == "global" else "built-in intent"
            return f"{kind} “{self.intent}”" + (f" (search for “{self.argument}”)" if self.argument else "")
        if self.kind == "search":
            return "a catalog search (every word names products)"
        if self.kind == "clarify":
            return "the fallback's clarifying question (a second unclear message gets the default reply)"
        return "the dialog engine"


@dataclass(frozen=True)
class Verdict:
    """Who answers a text: a keyword rule (`rule`), or, when none does, the engine (`engine`). `hijacked_by` is
    the built-in intent that answers although a rule matches (the rule is in `matched`)."""

    text: str
    rule: tuple[Match, RuleRecord] | None
    matched: tuple[Match, RuleRecord] | None
    hijacked_by: str | None
    engine: EngineAnswer | None


def probe_engine(
    config: Config,
    resources: Resources,
    rules: RulesCache | None = None,
    search: SearchService | None = None,
    understanding: UnderstanderCache | None = None,
) -> Engine:
    """An engine for probes: the process's rules, search and model when given (a serve's), fresh ones otherwise
    (a command's). It notes nothing as unanswered and records no behaviour events."""
    if rules is None:
        rules = RulesCache()
        rules.refresh()
    return build_engine(config, resources, rules, search or SearchService(), understanding=understanding)


def probe(config: Config, resources: Resources, text: str, engine: Engine | None = None) -> EngineAnswer:
    engine = engine or probe_engine(config, resources)
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
        return EngineAnswer("understanding", answer, seen.prediction.intent, confidence=confidence)
    if intent is not None:
        kind = "global" if intent.name in GLOBAL else "builtin"
        return EngineAnswer(kind, answer, intent.name, intent.argument or None)
    if state.get("flow") == "browse":
        return EngineAnswer("search", answer)
    if state.get("misses"):
        return EngineAnswer("clarify", answer)
    return EngineAnswer("engine", answer)


def verdict(
    config: Config, resources: Resources, compiled: CompiledRules, text: str, engine: Engine | None = None
) -> Verdict:
    """Who answers `text` now, and with what; runs the engine only when no rule answers."""
    now = resources.clock.now()
    matched = compiled.match(text, now)
    builtin = IntentDetector().detect(text, normalize(text), now)
    hijacked = None
    if matched is not None and builtin is not None:
        own_data = builtin.name in OWN_DATA and not matched[1].overrides
        hijacked = builtin.name if builtin.name in GLOBAL or own_data else None
    rule = matched if hijacked is None else None
    engine_answer = probe(config, resources, text, engine) if rule is None else None
    return Verdict(text, rule, matched, hijacked, engine_answer)


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


def payloads(answer: Answer) -> list[dict[str, Any]]:
    """The answer's messages as reply payloads (the keyword rules' format: text, news), in the order sent."""
    out: list[dict[str, Any]] = []
    for message in (answer.reply, *answer.followups):
        if isinstance(message, Text):
            out.append({"type": "text", "content": message.content})
        elif message is not None:
            out += [{"type": "news", **vars(article)} for article in message.articles]
    return out


def _shown(message: Message) -> str:
    if isinstance(message, Text):
        return message.content
    return json.dumps([vars(article) for article in message.articles], ensure_ascii=False)

