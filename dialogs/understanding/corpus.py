"""Labelled examples the intent classifier learns from: the shipped corpus plus the operator's own file.

The shipped corpus is one text file per intent under `corpus/` (`tracking.txt`: one example a line, `#`
starts a comment). Operators add examples, or whole new intents, in a TOML file::

    # Every example is one [[examples]] table: the intent it means and a message a shopper might send.
    [[examples]]
    intent = "tracking"
    text = "我的件咋还没影"

    # A new intent needs a `label`, once: the words the clarifying question offers ("您是想开发票，还是…").
    [[examples]]
    intent = "ask_invoice"
    label = "开发票"
    text = "能开发票吗"

    [[examples]]
    intent = "ask_invoice"
    text = "发票怎么开"

An operator example whose text (normalised) is also a shipped example of another intent replaces it: the
operator's word is the last one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["CorpusError", "Example", "load_examples", "shipped_examples"]


@dataclass(frozen=True)
class Example:
    intent: str
    text: str
    label: str = ""  # only set where an operator names a new intent


class CorpusError(ValueError):
    """An examples file that cannot be used; the message says which example and why."""


def shipped_examples() -> list[Example]:
    """The corpus shipped with the package, every intent's file in name order."""
    folder = resources.files("dialogs.understanding") / "corpus"
    examples: list[Example] = []
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".txt"):
            examples += _lines(entry.name.removesuffix(".txt"), entry.read_text(encoding="utf-8").splitlines())
    return examples


def _lines(intent: str, lines: Iterable[str]) -> Iterator[Example]:
    for line in lines:
        text = line.strip()
        if text and not text.startswith("#"):
            yield Example(intent, text)


def load_examples(path: str | Path) -> list[Example]:
    """The operator's examples from a TOML file (format in the module docstring); CorpusError if malformed."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CorpusError(f"{path}: {exc}") from exc
    tables = data.get("examples", [])
    if not isinstance(tables, list):
        raise CorpusError(f"{path}: `examples` must be an array of tables ([[examples]])")
    examples = []
    for number, table in enumerate(tables, start=1):
        where = f"{path}: example {number}"
        if not isinstance(table, dict):
            raise CorpusError(f"{where}: not a table")
        unknown = set(table) - {"intent", "text", "label"}
        if unknown:
            raise CorpusError(f"{where}: unknown key {sorted(unknown)[0]!r} (expected intent, text, label)")
        intent, text, label = table.get("intent"), table.get("text"), table.get("label", "")
        if not isinstance(intent, str) or not intent.strip():
            raise CorpusError(f"{where}: `intent` must be a non-empty string")
        if not isinstance(text, str) or not text.strip():
            raise CorpusError(f"{where}: `text` must be a non-empty string")
        if not isinstance(label, str):
            raise CorpusError(f"{where}: `label` must be a string")
        examples.append(Example(intent.strip(), text.strip(), label.strip()))
    return examples
