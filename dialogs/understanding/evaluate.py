"""Measure the intent classifier on labelled messages it never learnt from.

The file is UTF-8 TSV, one message a line: `intent<TAB>text`, optionally `<TAB>split` (`dev` or `heldout`);
blank lines and lines starting with `#` are skipped. The shipped set (`eval/utterances.tsv`, 800+ messages,
no sentence of the training corpus among them) marks a fixed fifth `heldout`: it is never used to train or
to tune — look at the development fold's misses, only at the held-out figure.

`python -m dialogs.understanding.evaluate [FILE] [--examples OPERATOR.toml]` prints the report.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from dialogs.understanding.understand import Understander

__all__ = ["Miss", "Report", "evaluate", "shipped_eval_path"]

ALL = "all"


@dataclass(frozen=True)
class Miss:
    intent: str
    text: str
    predicted: str
    confidence: float
    split: str


@dataclass(frozen=True)
class Report:
    total: Counter[str] = field(default_factory=Counter)  # messages per split
    correct: Counter[str] = field(default_factory=Counter)
    per_intent: dict[str, tuple[int, int]] = field(default_factory=dict)  # intent → (correct, total)
    misses: tuple[Miss, ...] = ()

    def accuracy(self, split: str = ALL) -> float:
        """Share of messages whose predicted intent is the labelled one, in one split or in all."""
        total = sum(self.total.values()) if split == ALL else self.total[split]
        correct = sum(self.correct.values()) if split == ALL else self.correct[split]
        return correct / total if total else 0.0

    @property
    def confusions(self) -> list[tuple[str, str, int]]:
        """(labelled, predicted, count) pairs, most frequent first."""
        pairs = Counter((miss.intent, miss.predicted) for miss in self.misses)
        return [(gold, predicted, count) for (gold, predicted), count in pairs.most_common()]

    def text(self, show_heldout_misses: bool = False) -> str:
        """The printable report; held-out misses are hidden unless asked for, so no one tunes on them."""
        lines = [f"accuracy {self.accuracy():.1%} over {sum(self.total.values())} messages"]
        lines += [
            f"  {split}: {self.accuracy(split):.1%} ({self.correct[split]}/{self.total[split]})"
            for split in sorted(self.total)
        ]
        lines.append("per intent (correct/total):")
        for intent, (correct, total) in sorted(self.per_intent.items(), key=lambda item: item[1][0] / item[1][1]):
            lines.append(f"  {intent:<22} {correct / total:6.1%}  {correct}/{total}")
        if self.confusions:
            lines.append("confusions (labelled → predicted):")
            lines += [f"  {gold} → {predicted}: {count}" for gold, predicted, count in self.confusions]
        shown = [miss for miss in self.misses if show_heldout_misses or miss.split != "heldout"]
        if shown:
            lines.append("misses:")
            lines += [
                f"  [{miss.split}] {miss.intent} → {miss.predicted} ({miss.confidence:.2f}): {miss.text}"
                for miss in shown
            ]
        return "\n".join(lines)


def shipped_eval_path() -> Path:
    return Path(str(resources.files("dialogs.understanding") / "eval" / "utterances.tsv"))


def evaluate(path: str | Path, understander: Understander | None = None) -> Report:
    """Classify every message of `path` (format in the module docstring) and count the hits per split and
    per intent; `understander` defaults to one trained on the shipped corpus alone."""
    understander = understander or Understander.build()
    total: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    per_intent: dict[str, list[int]] = {}
    misses = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) not in (2, 3) or not fields[0] or not fields[1]:
            raise ValueError(f"{path}:{number}: expected intent<TAB>text[<TAB>split]")
        intent, text = fields[0].strip(), fields[1].strip()
        split = fields[2].strip() if len(fields) == 3 else ALL
        prediction = understander.classifier.classify(text)
        hit = prediction.intent == intent
        total[split] += 1
        correct[split] += hit
        tally = per_intent.setdefault(intent, [0, 0])
        tally[0] += hit
        tally[1] += 1
        if not hit:
            misses.append(Miss(intent, text, prediction.intent, prediction.confidence, split))
    return Report(total, correct, {intent: (c, t) for intent, (c, t) in per_intent.items()}, tuple(misses))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Intent accuracy on a labelled TSV file.")
    parser.add_argument("file", nargs="?", default=None, help="intent<TAB>text[<TAB>split] (default: shipped set)")
    parser.add_argument("--examples", default=None, help="operator examples (TOML) to train with")
    parser.add_argument("--show-heldout-misses", action="store_true", help="only once the work is done")
    args = parser.parse_args(argv)
    understander = Understander.build(examples_file=args.examples)
    report = evaluate(args.file or shipped_eval_path(), understander)
    print(report.text(show_heldout_misses=args.show_heldout_misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
