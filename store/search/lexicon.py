"""The search lexicon: synonym rings and hypernyms, shipped for common retail words and extended by the operator.

Shoppers say 卫衣 where the catalog says 连帽衫, or 数码产品 where it has 耳机 and 充电宝. The lexicon is data,
not code: `lexicon.toml` beside this module, plus an operator TOML file with the same tables merged on
top, read again each time the search index is rebuilt (after an import or a catalog change).

    [synonyms]
    "卫衣" = ["连帽衫", "套头衫"]    # a ring: any of these words also looks for the others
    [hypernyms]
    "数码产品" = ["耳机", "手机"]    # the broad word looks for the narrower ones (not the other way round)
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from store.search.text import canonical, normalise

DEFAULT_PATH = Path(__file__).with_name("lexicon.toml")
TABLES = ("synonyms", "hypernyms")


class LexiconError(ValueError):
    """The lexicon file cannot be read or does not have the expected shape; the message names file and key."""


@dataclass(frozen=True)
class Lexicon:
    synonyms: Mapping[str, frozenset[str]] = field(default_factory=dict)  # word → the other words of its rings
    hypernyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # broad word → narrower words

    def merged(self, other: Lexicon) -> Lexicon:
        """This lexicon with `other`'s rings joined in and its hypernyms' word lists added."""
        hypernyms = {w: list(n) for w, n in self.hypernyms.items()}
        for word, narrower in other.hypernyms.items():
            known = hypernyms.setdefault(word, [])
            known.extend(n for n in narrower if n not in known)
        rings = [{w, *s} for w, s in self.synonyms.items()] + [{w, *s} for w, s in other.synonyms.items()]
        return Lexicon(_joined(rings), MappingProxyType({w: tuple(n) for w, n in hypernyms.items()}))


def _joined(rings: list[set[str]]) -> Mapping[str, frozenset[str]]:
    """word → the other words of its ring, rings that share a word joined into one."""
    ring_of: dict[str, set[str]] = {}
    for ring in rings:
        joined = set(ring)
        for word in ring:
            joined |= ring_of.get(word, set())
        for word in joined:
            ring_of[word] = joined
    return MappingProxyType({w: frozenset(r - {w}) for w, r in ring_of.items()})


def _word(text: str) -> str:
    return canonical(normalise(text).replace(" ", ""))


def parse_lexicon(raw: Mapping[str, object], origin: str) -> Lexicon:
    """Validate the two tables of a parsed TOML document (unknown tables are an error: a typo loses words)."""
    for name in raw:
        if name not in TABLES:
            raise LexiconError(f"{origin}: [{name}]: unknown table (known: {', '.join(TABLES)})")
    rings: list[set[str]] = []
    hypernyms: dict[str, tuple[str, ...]] = {}
    for table in TABLES:
        entries = raw.get(table, {})
        if not isinstance(entries, dict):
            raise LexiconError(f"{origin}: [{table}] must be a table of word = [words]")
        for key, words in entries.items():
            if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
                raise LexiconError(f'{origin}: [{table}] {key}: expected a list of words, e.g. ["连帽衫", "套头衫"]')
            head, rest = _word(key), [_word(w) for w in words]
            if not head:
                raise LexiconError(f"{origin}: [{table}] {key!r}: empty word")
            if table == "hypernyms":
                hypernyms[head] = tuple(dict.fromkeys(w for w in rest if w != head))
                continue
            rings.append({head, *rest})
    return Lexicon(_joined(rings), MappingProxyType(hypernyms))


def read_lexicon(path: Path) -> Lexicon:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise LexiconError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LexiconError(f"{path}: cannot read: {exc}") from None
    return parse_lexicon(raw, str(path))


def load_lexicon(operator_file: Path | None = None) -> Lexicon:
    """The shipped lexicon, with the operator's file (when configured) merged on top."""
    lexicon = read_lexicon(DEFAULT_PATH)
    return lexicon.merged(read_lexicon(operator_file)) if operator_file is not None else lexicon
