"""One call per message: normalised text, intent prediction and entities together."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from dialogs.understanding.classifier import Classifier, Prediction, Thresholds
from dialogs.understanding.corpus import Example, load_examples, shipped_examples
from dialogs.understanding.entities import Entities, extract
from dialogs.understanding.labels import LABELS, clarifying_question
from dialogs.understanding.normalise import normalise

__all__ = ["Understander", "Understanding"]


@dataclass(frozen=True)
class Understanding:
    text: str
    norm: str
    prediction: Prediction
    sure: bool  # False: ask `question` rather than act on `prediction.intent`
    question: str  # "您是想查物流，还是想退货退款？"

    @cached_property
    def entities(self) -> Entities:
        """Read when first asked for: the conversation decides on the intent alone, and reading entities is
        nearly half the cost of understanding a message."""
        return extract(self.text)


class Understander:
    """The shipped corpus plus operator examples, trained once; immutable, shared between threads."""

    def __init__(self, classifier: Classifier, thresholds: Thresholds, labels: Mapping[str, str]) -> None:
        self.classifier = classifier
        self.thresholds = thresholds
        self.labels = labels

    @classmethod
    def build(
        cls,
        extra: Iterable[Example] = (),
        *,
        examples_file: str | Path | None = None,
        thresholds: Thresholds = Thresholds(),  # noqa: B008 - frozen, shared default
    ) -> Understander:
        """Train on the shipped corpus, then `extra`, then the operator's TOML file (later examples win)."""
        operator = [*extra, *(load_examples(examples_file) if examples_file else ())]
        labels = dict(LABELS)
        for example in operator:
            if example.label:
                labels.setdefault(example.intent, example.label)
        return cls(Classifier.train([*shipped_examples(), *operator]), thresholds, labels)

    def understand(self, text: str) -> Understanding:
        norm = normalise(text)
        prediction = self.classifier.classify_normalised(norm)
        question = clarifying_question(prediction.intent, prediction.runner_up, self.labels)
        return Understanding(text, norm, prediction, prediction.is_sure(self.thresholds), question)
