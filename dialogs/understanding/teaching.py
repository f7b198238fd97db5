"""Teaching the model one example: the checks and the write that `wxshop nlu teach` and the admin API share.

Announcing the change is left to the caller (a short-lived command publishes synchronously, `serve` on its
async Redis client); every process then retrains, as `UnderstanderCache.refresh` describes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from dialogs.understanding.corpus import Example
from dialogs.understanding.normalise import normalise
from store.chat.nlu import TEXT_MAX, TaughtExample, add_example

__all__ = ["ExampleInvalid", "IntentCount", "check_example", "intent_counts", "teach"]


class ExampleInvalid(ValueError):
    """An example that cannot be taught; `problems` says every reason, `unknown_intent` whether one is that."""

    def __init__(self, problems: list[str], unknown_intent: bool) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.unknown_intent = unknown_intent


def check_example(text: str, intent: str, known: Mapping[str, str]) -> str:
    """The text's normalised form when `text` can teach `intent`; ExampleInvalid otherwise."""
    problems = []
    unknown = intent not in known
    if unknown:
        problems.append(f"unknown intent {intent!r}")
    stripped = text.strip()
    norm = normalise(stripped)
    if not norm:
        problems.append("the text has nothing to learn from (only spaces, punctuation or emoji)")
    elif len(stripped) > TEXT_MAX:
        problems.append(f"the text is longer than {TEXT_MAX} characters ({len(stripped)})")
    if problems:
        raise ExampleInvalid(problems, unknown)
    return norm


def teach(text: str, intent: str, known: Mapping[str, str], now: datetime) -> tuple[TaughtExample, bool]:
    """Store `text` → `intent` after the checks (marking the same utterance taught in the inbox); the example,
    and False when it was taught before. `known` maps the intents the model has to their Chinese names."""
    norm = check_example(text, intent, known)
    return add_example(text, intent, norm, now)


@dataclass(frozen=True)
class IntentCount:
    intent: str
    label: str
    shipped: int  # examples in the shipped corpus
    file: int  # in the operators' examples file
    taught: int  # taught with `wxshop nlu teach` or the admin API


def intent_counts(
    labels: Mapping[str, str], shipped: Iterable[Example], from_file: Iterable[Example], taught: Mapping[str, int]
) -> list[IntentCount]:
    """Every intent the model knows, by name, with how many examples of each kind it learns from (`taught`: the
    stored examples by intent, `store.chat.nlu.taught_counts`)."""
    in_corpus = Counter(e.intent for e in shipped)
    in_file = Counter(e.intent for e in from_file)
    return [
        IntentCount(intent, labels[intent], in_corpus[intent], in_file[intent], taught.get(intent, 0))
        for intent in sorted(labels)
    ]
