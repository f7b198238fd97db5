"""The compiled operator rules every `serve` process keeps in memory, swapped whole when the rules change.

Changes are announced on a Redis pub/sub channel by whoever saved them; a process also checks the stored
version every few seconds, so a missed announcement (a reconnect) delays a change, never loses it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dialogs.matcher import Match, Matcher, Rule
from store.chat.keywords import RuleRecord, RuleSet, current_version, load_rule_set
from store.core.keys import Keys

log = logging.getLogger("wxshop.rules")


def channel(prefix: str) -> str:
    return Keys(prefix).keywords_changed()


@dataclass(frozen=True)
class CompiledRules:
    version: int = -1
    matcher: Matcher = field(default_factory=lambda: Matcher.build([]))
    standing: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def match(self, text: str, now: datetime) -> tuple[Match, RuleRecord] | None:
        hit = self.matcher.match(text, now)
        return (hit, hit.rule.reply) if hit is not None else None


def compile_rules(rule_set: RuleSet) -> CompiledRules:
    rules = [
        Rule(
            id=r.id,
            name=r.name,
            keywords=r.keywords,
            match=r.match,  # type: ignore[arg-type]
            priority=r.priority,
            enabled=r.enabled,
            starts=r.starts,
            ends=r.ends,
            reply=r,
        )
        for r in rule_set.rules
    ]
    return CompiledRules(rule_set.version, Matcher.build(rules), rule_set.standing)


class RulesCache:
    """Holds the current `CompiledRules`; `refresh()` rebuilds off the request path when the version moved."""

    def __init__(self) -> None:
        self._current = CompiledRules()
        self._lock = threading.Lock()

    @property
    def current(self) -> CompiledRules:
        return self._current

    def refresh(self) -> bool:
        """Reload when the stored version differs; True when a new set was swapped in."""
        with self._lock:
            if current_version() == self._current.version:
                return False
            compiled = compile_rules(load_rule_set())
            self._current = compiled
        log.info("keyword rules loaded", extra={"version": compiled.version, "rules": len(compiled.matcher.rules)})
        return True
