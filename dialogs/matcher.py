"""Operator keyword rules compiled into an immutable index that answers "which rule fires for this message, now?".

A rule matches in one of three modes, always against `normalize(message)` (half-width, case-folded, without
spaces or punctuation — see `dialogs.normalize`):

- ``exact``: the normalised message equals a normalised keyword (one dict lookup);
- ``contains``: a normalised keyword occurs in it (one Aho-Corasick pass over all keywords at once);
- ``regex``: the pattern `search`es the first `REGEX_WINDOW` characters of it. Patterns are *not* normalised
  (that would change their meaning), so they are written for normalised text: ``vip\\d+``, not ``VIP：\\d+``.
  `compile_pattern` explains which patterns are accepted and why no rule can make a message expensive.

Resolution is deterministic: exact beats contains beats regex; then the higher priority; then the longer
keyword (normalised length; for regex, the pattern's length); then the lower rule id. Disabled rules and
rules outside their window (``starts <= now < ends``) never fire and never hide another rule: all candidate
hits are considered and the best *active* one wins, so a closed high-priority rule lets an open lower one
answer.

`Matcher.build` does the work off the request path (≤ 1 s for 100,000 rules). The result is immutable and
keeps no per-call state, so one instance serves many threads and is replaced by swapping the reference to a
newly built one. jieba is deliberately not involved: exact and contains matching need no tokens.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from re import _compiler as sre_compile
from re import _constants as sre  # the stdlib's own regex parser: the only one that agrees exactly with `re`
from re import _parser as sre_parse
from typing import Any, Literal, NamedTuple, NoReturn

import ahocorasick

from dialogs.normalize import normalize

__all__ = [
    "MAX_PATTERN_CHARS",
    "MAX_TEXT_CHARS",
    "MODES",
    "REGEX_WINDOW",
    "Conflict",
    "Match",
    "MatchMode",
    "Matcher",
    "Rule",
    "RuleError",
    "UnsafePattern",
    "compile_pattern",
]

MatchMode = Literal["exact", "contains", "regex"]
MODES: tuple[MatchMode, ...] = ("exact", "contains", "regex")

MAX_TEXT_CHARS = 2048
"""Only this many characters of a raw message are normalised and matched, whatever its length."""

REGEX_WINDOW = 600
"""Regex rules see at most this many characters of the normalised message (its beginning)."""

MAX_PATTERN_CHARS = 200
"""Longest regex pattern accepted."""

_LONG_SPAN = 16  # a repetition that can vary by this many or more counts as "long" (like * and +)
_MAX_CHOICES = 256  # product of the choices short optional pieces offer at one position
_NO_RANK = 1 << 62
_INF = math.inf


class RuleError(ValueError):
    """A rule cannot be compiled; the message names the rule (id and name) and the offending keyword."""

    def __init__(self, rule: Rule, reason: str, keyword: str | None = None) -> None:
        self.rule_id = rule.id
        self.rule_name = rule.name
        self.keyword = keyword
        self.reason = reason
        where = f"rule {rule.id} “{rule.name}”"
        if keyword is not None:
            where += f", keyword {keyword!r}"
        super().__init__(f"{where}: {reason}")


class UnsafePattern(ValueError):
    """A regex pattern is invalid or could make matching expensive; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One operator keyword rule. `reply` is an opaque payload the matcher hands back untouched."""

    id: int
    name: str
    keywords: tuple[str, ...]
    match: MatchMode
    priority: int = 0
    enabled: bool = True
    starts: datetime | None = None
    ends: datetime | None = None
    reply: Any = field(default=None, hash=False)  # compared, but a dict payload must not make the rule unhashable

    def __post_init__(self) -> None:
        # A bare string would silently become one keyword per character.
        if isinstance(self.keywords, str):
            raise RuleError(self, "keywords must be a list of strings, not one string")
        object.__setattr__(self, "keywords", tuple(self.keywords))

    def active_at(self, now: datetime) -> bool:
        """True when the rule is enabled and `starts <= now < ends` (a missing bound is open)."""
        return self.enabled and (self.starts is None or self.starts <= now) and (self.ends is None or now < self.ends)


class Match(NamedTuple):
    """The winning rule, its keyword (or pattern) as the operator wrote it, the mode, and the normalised text hit."""

    rule: Rule
    keyword: str
    mode: MatchMode
    found: str


ConflictKind = Literal["exact_shadowed", "contains_shadowed", "never_fires"]
_KIND_ORDER: dict[str, int] = {"never_fires": 0, "exact_shadowed": 1, "contains_shadowed": 2}


@dataclass(frozen=True, slots=True)
class Conflict:
    """A rule that sometimes or always cannot answer, the rule answering in its place if any, and why."""

    kind: ConflictKind
    rule: Rule
    other: Rule | None
    keyword: str | None
    message: str

    def __str__(self) -> str:
        return self.message


# Index entries are flat tuples of atoms (ints, floats, strings), for two reasons: the hot loop unpacks a
# tuple faster than it reads attributes, and the garbage collector stops tracking such tuples after one
# look, so 100,000 rules' worth of entries cost nothing in later collections (tracked objects made the
# collector's full passes half of the build time). The Match is made only for the winner.
# Exact/contains: (rank, timed, starts, ends, rule position, keyword as written, normalised keyword), where
# rank orders all entries of a mode best-first and starts/ends are epoch seconds (-inf/inf when open).
_Entry = tuple[int, bool, float, float, int, str, str]
# Regex, stored at position = rank: (timed, starts, ends, compiled pattern, rule position, pattern).
_RegexEntry = tuple[bool, float, float, re.Pattern[str], int, str]
_Hits = list[tuple[int, int]]  # (end position, pattern index) per occurrence


class Matcher:
    """An immutable index over a set of rules; build it with `Matcher.build(rules)`."""

    __slots__ = ("_automaton", "_contains_at", "_exact", "_regex", "_regex_always", "_regex_at", "_rules")

    _automaton: ahocorasick.Automaton | None
    _contains_at: tuple[tuple[_Entry, ...], ...]
    _exact: dict[str, tuple[_Entry, ...]]
    _regex: tuple[_RegexEntry, ...]
    _regex_always: tuple[int, ...]
    _regex_at: tuple[tuple[int, ...], ...]
    _rules: tuple[Rule, ...]

    def __init__(self, **tables: Any) -> None:
        """Internal: use `Matcher.build`."""
        for name in self.__slots__:
            object.__setattr__(self, name, tables[name])

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Matcher is immutable: build a new one and swap the reference")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Matcher is immutable: build a new one and swap the reference")

    def __repr__(self) -> str:
        return f"<Matcher rules={len(self._rules)} patterns={len(self._contains_at)} regex={len(self._regex)}>"

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule given to `build`, disabled and expired ones included."""
        return self._rules

    @classmethod
    def build(cls, rules: Iterable[Rule]) -> Matcher:
        """Validate and index `rules`; raises `RuleError` naming the first bad rule and keyword."""
        return _build(tuple(rules))

    def match(self, text: str, now: datetime) -> Match | None:
        """The winning active rule for the message `text` at `now` (timezone-aware), or None.

        The hot path: one normalisation, one dict lookup, one automaton pass, and loops over the few entries
        hit. `now.timestamp()` (~0.5 µs with a ZoneInfo) is only computed once a rule with a window is met.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        norm = normalize(text[:MAX_TEXT_CHARS])
        if not norm:
            return None
        t: float | None = None
        exact = self._exact.get(norm)
        if exact is not None:
            for _rank, timed, starts, ends, position, keyword, _norm in exact:
                if timed:
                    t = now.timestamp() if t is None else t
                    if not starts <= t < ends:
                        continue
                return Match(self._rules[position], keyword, "exact", norm)
        automaton = self._automaton
        hits = list(automaton.iter(norm)) if automaton is not None else []
        best = None
        best_rank = _NO_RANK
        contains_at = self._contains_at
        for _end, index in hits:
            for entry in contains_at[index]:
                if entry[0] >= best_rank:
                    break
                if entry[1]:
                    t = now.timestamp() if t is None else t
                    if not entry[2] <= t < entry[3]:
                        continue
                best, best_rank = entry, entry[0]
                break
        if best is not None:
            return Match(self._rules[best[4]], best[5], "contains", best[6])
        return self._best_regex(norm, hits, now)

    def _best_regex(self, norm: str, hits: _Hits, now: datetime) -> Match | None:
        """Try, best rank first, only patterns whose required literal occurred, plus the literal-free ones."""
        regex_at = self._regex_at
        candidates = {rank for _end, index in hits for rank in regex_at[index]}
        order: Sequence[int] = sorted(candidates.union(self._regex_always)) if candidates else self._regex_always
        window = norm[:REGEX_WINDOW]
        regex = self._regex
        t: float | None = None
        for rank in order:
            timed, starts, ends, pattern, position, source = regex[rank]
            if timed:
                t = now.timestamp() if t is None else t
                if not starts <= t < ends:
                    continue
            found = pattern.search(window)
            if found is not None:
                return Match(self._rules[position], source, "regex", found.group())
        return None

    def conflicts(self, now: datetime | None = None) -> list[Conflict]:
        """What operators should look at: shadowed exact keywords, dominated contains rules, rules that never fire.

        With `now`, only the future counts: a closed window is "never fires", and one rule shadows another only
        where their remaining windows overlap. The cost is O(keywords × keywords inside each), found by running
        the automaton over the keywords themselves, never by comparing every pair of rules.
        """
        if now is not None and now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        not_before = -_INF if now is None else now.timestamp()
        found = _never_fires(self._rules, now)
        silent = frozenset(conflict.rule.id for conflict in found)
        found += _exact_shadowed(self._rules, self._exact, not_before, silent)
        if self._automaton is not None:
            found += _contains_shadowed(self._rules, self._automaton, self._contains_at, not_before, silent)
        found.sort(key=lambda c: (_KIND_ORDER[c.kind], c.rule.id, c.other.id if c.other else -1, c.keyword or ""))
        return found


# ---------------------------------------------------------------------------------------------- building

_OPEN = (False, -_INF, _INF)


@dataclass(slots=True)
class _Pending:
    """Build-time accumulators, discarded once the Matcher exists.

    Items are flat tuples of atoms that sort natively into rank order (no key function, nothing for the
    garbage collector to follow): exact ``(-priority, id, norm, rule position, keyword)``, contains
    ``(-priority, -len(norm), id, norm, rule position, keyword)``, regex
    ``(-priority, -len(pattern), id, pattern, rule position)``. A rule's keywords are de-duplicated after
    normalisation, so no two items are equal.
    """

    exact: list[tuple[int, int, str, int, str]] = field(default_factory=list)
    contains: list[tuple[int, int, int, str, int, str]] = field(default_factory=list)
    regex: list[tuple[int, int, int, str, int]] = field(default_factory=list)
    compiled: dict[str, tuple[re.Pattern[str], frozenset[str] | None]] = field(default_factory=dict)
    windows: dict[int, tuple[bool, float, float]] = field(default_factory=dict)
    normalized: dict[str, str] = field(default_factory=dict)  # keywords repeat across rules


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building, then restore it as it was.

    Building 100,000 rules allocates a few hundred thousand small objects, and every time the collector's
    thresholds trip it walks the whole heap (the rules, the previous matcher, the application): measured at a
    quarter of the build time. Nothing built here forms a reference cycle, so reference counting still frees
    all garbage at once. If another thread toggles the collector meanwhile, it ends enabled as long as any
    party found it enabled.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(rules: tuple[Rule, ...]) -> Matcher:
    with _collector_paused():
        return _build_tables(rules)


def _build_tables(rules: tuple[Rule, ...]) -> Matcher:
    _check_ids(rules)
    pending = _Pending()
    for position, rule in enumerate(rules):
        _check_rule(rule)
        if rule.match == "regex":
            _collect_regex(rule, position, pending)
        else:
            _collect_words(rule, position, pending)
    patterns: dict[str, int] = {}
    exact = _exact_table(pending)
    contains_at = _contains_table(pending, patterns)
    regex, regex_always, regex_at = _regex_tables(pending, patterns)
    contains_at.extend([] for _ in range(len(patterns) - len(contains_at)))
    regex_at.extend([] for _ in range(len(patterns) - len(regex_at)))
    return Matcher(
        _automaton=_automaton(patterns) if patterns else None,
        _contains_at=tuple(map(tuple, contains_at)),
        _exact=exact,
        _regex=regex,
        _regex_always=regex_always,
        _regex_at=tuple(map(tuple, regex_at)),
        _rules=rules,
    )


def _check_ids(rules: tuple[Rule, ...]) -> None:
    if len({rule.id for rule in rules}) == len(rules):
        return
    seen: dict[int, Rule] = {}
    for rule in rules:
        if rule.id in seen:
            raise RuleError(rule, f"duplicate rule id (also used by “{seen[rule.id].name}”)")
        seen[rule.id] = rule


def _check_rule(rule: Rule) -> None:
    if rule.match not in MODES:
        raise RuleError(rule, f"match must be one of {', '.join(MODES)}, not {rule.match!r}")
    if not rule.keywords:
        raise RuleError(rule, "has no keywords")
    for keyword in rule.keywords:
        if not isinstance(keyword, str):
            raise RuleError(rule, f"keywords must be strings, not {type(keyword).__name__}")
    for bound in (rule.starts, rule.ends):
        if bound is not None and bound.tzinfo is None:
            raise RuleError(rule, "starts and ends must be timezone-aware")


def _indexed(rule: Rule) -> bool:
    """Rules that can fire at some time are indexed; the others only show up in `conflicts`."""
    return rule.enabled and not (rule.starts is not None and rule.ends is not None and rule.ends <= rule.starts)


def _window(rule: Rule) -> tuple[bool, float, float]:
    """(timed, starts, ends) in epoch seconds: comparing floats is ~10x cheaper than comparing aware datetimes."""
    if rule.starts is None and rule.ends is None:
        return _OPEN
    starts = -_INF if rule.starts is None else rule.starts.timestamp()
    ends = _INF if rule.ends is None else rule.ends.timestamp()
    return True, starts, ends


def _overlaps(a_starts: float, a_ends: float, b_starts: float, b_ends: float, not_before: float) -> bool:
    return max(a_starts, b_starts, not_before) < min(a_ends, b_ends)


def _collect_words(rule: Rule, position: int, pending: _Pending) -> None:
    """Normalise and validate an exact/contains rule's keywords (enabled or not); queue them if indexable."""
    by_norm: dict[str, str] = {}
    normalized = pending.normalized
    for keyword in rule.keywords:
        norm = normalized.get(keyword)
        if norm is None:
            norm = normalized[keyword] = normalize(keyword)
        if not norm:
            raise RuleError(rule, "is empty once spaces and punctuation are removed", keyword)
        by_norm.setdefault(norm, keyword)
    if not _indexed(rule):
        return
    pending.windows[position] = _window(rule)
    priority, rule_id = -rule.priority, rule.id
    if rule.match == "exact":
        for norm, keyword in by_norm.items():
            pending.exact.append((priority, rule_id, norm, position, keyword))
    else:
        for norm, keyword in by_norm.items():
            pending.contains.append((priority, -len(norm), rule_id, norm, position, keyword))


def _collect_regex(rule: Rule, position: int, pending: _Pending) -> None:
    """Compile and guard a regex rule's patterns (enabled or not, each distinct pattern once); queue them."""
    for pattern in dict.fromkeys(rule.keywords):
        if pattern not in pending.compiled:
            try:
                pending.compiled[pattern] = compile_pattern(pattern)
            except UnsafePattern as exc:
                raise RuleError(rule, str(exc), pattern) from None
        if _indexed(rule):
            pending.windows[position] = _window(rule)
            pending.regex.append((-rule.priority, -len(pattern), rule.id, pattern, position))


def _exact_table(pending: _Pending) -> dict[str, tuple[_Entry, ...]]:
    pending.exact.sort()
    windows = pending.windows
    table: dict[str, list[_Entry]] = {}
    for rank, (_priority, _id, norm, position, keyword) in enumerate(pending.exact):
        table.setdefault(norm, []).append((rank, *windows[position], position, keyword, norm))
    return {norm: tuple(entries) for norm, entries in table.items()}


def _contains_table(pending: _Pending, patterns: dict[str, int]) -> list[list[_Entry]]:
    """Entries per automaton pattern, appended in global rank order so that each list is sorted best-first."""
    pending.contains.sort()
    windows = pending.windows
    table: list[list[_Entry]] = []
    for rank, (_priority, _length, _id, norm, position, keyword) in enumerate(pending.contains):
        index = patterns.setdefault(norm, len(patterns))
        if index == len(table):
            table.append([])
        table[index].append((rank, *windows[position], position, keyword, norm))
    return table


def _regex_tables(
    pending: _Pending, patterns: dict[str, int]
) -> tuple[tuple[_RegexEntry, ...], tuple[int, ...], list[list[int]]]:
    """Regex entries by rank, the ranks tried on every message, and the ranks tried per literal pattern."""
    pending.regex.sort()
    entries: list[_RegexEntry] = []
    always: list[int] = []
    regex_at: list[list[int]] = []
    for rank, (_priority, _length, _id, source, position) in enumerate(pending.regex):
        compiled, literals = pending.compiled[source]
        entries.append((*pending.windows[position], compiled, position, source))
        if literals is None:
            always.append(rank)
            continue
        for literal in sorted(literals):
            index = patterns.setdefault(literal, len(patterns))
            regex_at.extend([] for _ in range(index + 1 - len(regex_at)))
            regex_at[index].append(rank)
    return tuple(entries), tuple(always), regex_at


# ------------------------------------------------------------------------------------------- regex guard

_REPEATS = frozenset({sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT})
_BACKREFS = frozenset({sre.GROUPREF, sre.GROUPREF_EXISTS})
_LOOKAROUNDS = frozenset({sre.ASSERT, sre.ASSERT_NOT})
_Tree = Any  # re._parser.SubPattern: a sequence of (opcode, argument) nodes
_CharTest = Any  # Callable[[str], bool], kept as partial objects so they can be de-duplicated


def compile_pattern(pattern: str) -> tuple[re.Pattern[str], frozenset[str] | None]:
    """Compile an operator's regex if its worst case is bounded; also return the literals that prefilter it.

    Regex rules are operator input run against stranger input, so a pattern is accepted only when:

    1. it has at most `MAX_PATTERN_CHARS` characters and compiles;
    2. it has no backreferences or conditionals (``\\1``, ``(?P=name)``, ``(?(1)…)``): they make matching
       NP-hard;
    3. a repetition that can run more than once has a fixed-width body without ambiguous alternatives, which
       rejects the exponential shapes ``(a+)+``, ``(a*)*``, ``(.*)*``, ``(a|aa)+``, ``(ab|ab)+``;
       alternatives under a repetition must start with different literal characters (``(红色|蓝色)+`` is fine);
    4. at most one *long* repetition (``*``, ``+``, ``{n,}``, or a span of 16 or more) is live at a time:
       a second one must follow a literal character the first cannot match (``满\\d+减\\d+`` is fine; ``.*的.*``
       and ``\\d+\\d+`` are not: repetitions trading characters cost O(n³) and worse under `search`);
    5. the short optional pieces (``x?``, ``.{0,4}``, non-exclusive alternatives) multiply to at most 256 choices;
    6. it cannot match the empty string (it would fire on every message), and does not use ``(?i)``;
    7. each literal character survives normalisation, because the text it runs on is lower-case, half-width
       and without spaces or punctuation: ``VIP``, ``：`` or ``\\.`` could never match.

    It then runs with `search` on at most `REGEX_WINDOW` characters of the normalised message. Under these
    rules the worst case of one accepted pattern is O(window²) simple steps (about 1 ms for ``\\d+x`` against
    600 digits on a 2-core reference machine), and most patterns are not run at all: the returned literals
    (one of which occurs in any match, e.g. {"退货"} for ``退货.*运费``) join the Aho-Corasick automaton, and
    the pattern is only tried on messages containing one of them. None means "no literal: try every time".
    """
    if len(pattern) > MAX_PATTERN_CHARS:
        raise UnsafePattern(f"pattern is longer than {MAX_PATTERN_CHARS} characters")
    try:
        tree = sre_parse.parse(pattern)
    except re.error as exc:
        raise UnsafePattern(f"invalid regular expression: {exc}") from None
    if tree.state.flags & re.IGNORECASE:
        raise UnsafePattern("(?i) is not allowed: messages are already lower-cased")
    _check_nodes(tree, repeated=False)
    if tree.getwidth()[0] == 0:
        raise UnsafePattern("it can match an empty string, so it would fire on every message")
    _live_after(tree, ())
    if _choices(tree) > _MAX_CHOICES:
        raise UnsafePattern(f"too many optional pieces: more than {_MAX_CHOICES} ways to try at each position")
    # Compiling the tree already parsed (as re.compile would after parsing again) halves the cost per pattern.
    return sre_compile.compile(tree), _best_requirement(_requirements(tree))


def _check_nodes(tree: _Tree, *, repeated: bool) -> None:
    """Reject backreferences, (?i), literals normalised text never contains, and exponential repetition."""
    for op, arg in tree:
        if op in _BACKREFS:
            raise UnsafePattern("backreferences and conditionals are not allowed")
        if op is sre.LITERAL:
            _check_literal(chr(arg))
        elif op is sre.BRANCH:
            if repeated and not _exclusive(arg[1]):
                raise UnsafePattern(
                    "alternatives inside a repetition must start with different characters, as in (红色|蓝色)+;"
                    " (a|aa)+ or (ab|ab)+ backtrack exponentially"
                )
            for branch in arg[1]:
                _check_nodes(branch, repeated=repeated)
        elif op in _REPEATS:
            _low, high, body = arg
            shortest, longest = body.getwidth()
            if high > 1 and shortest != longest:
                raise UnsafePattern(
                    "a repetition of something of variable length, such as (a+)+, (a*)*, (.*)* or (a|aa)+,"
                    " backtracks exponentially"
                )
            _check_nodes(body, repeated=repeated or high > 1)
        elif op is sre.SUBPATTERN:
            if arg[1] & re.IGNORECASE:
                raise UnsafePattern("(?i) is not allowed: messages are already lower-cased")
            _check_nodes(arg[3], repeated=repeated)
        elif op in _LOOKAROUNDS:
            _check_nodes(arg[1], repeated=repeated)
        elif op is sre.ATOMIC_GROUP:
            _check_nodes(arg, repeated=repeated)


def _check_literal(char: str) -> None:
    folded = normalize(char)
    if folded != char:
        hint = f"write {folded!r}" if folded else "remove it"
        raise UnsafePattern(
            f"{char!r} never occurs in a normalised message (lower-case, half-width, no spaces or punctuation): {hint}"
        )


def _exclusive(branches: list[_Tree]) -> bool:
    """True when every alternative starts with its own literal character, so at most one can proceed."""
    firsts = [branch[0][1] for branch in branches if len(branch) and branch[0][0] is sre.LITERAL]
    return len(firsts) == len(branches) and len(set(firsts)) == len(firsts)


def _is_long(low: int, high: int) -> bool:
    return high == sre.MAXREPEAT or high - low >= _LONG_SPAN


def _live_after(tree: _Tree, live: tuple[_CharTest, ...]) -> tuple[_CharTest, ...]:
    """Track which long repetitions could still be consuming characters; a second live one is rejected."""
    for op, arg in tree:
        if op is sre.LITERAL:
            char = chr(arg)
            live = tuple(test for test in live if test(char))
        elif op in _REPEATS:
            low, high, body = arg
            if _is_long(low, high):
                if live:
                    raise UnsafePattern(
                        "two long repetitions can trade characters (as in .*的.* or \\d+\\d+), which costs O(n³)"
                        " or worse; separate them by a character the first cannot match, and drop a leading or"
                        " trailing .* (search already looks everywhere)"
                    )
                live = (_char_test(body),)
            else:
                after = _live_after(body, live)
                live = _union(live, after) if low == 0 else after
        elif op is sre.SUBPATTERN:
            live = _live_after(arg[3], live)
        elif op is sre.ATOMIC_GROUP:
            live = _live_after(arg, live)
        elif op is sre.BRANCH:
            live = _union(*(_live_after(branch, live) for branch in arg[1]))
        elif op in _LOOKAROUNDS:
            live = _union(live, _live_after(arg[1], live))
    return live


def _union(*groups: tuple[_CharTest, ...]) -> tuple[_CharTest, ...]:
    return tuple(dict.fromkeys(test for group in groups for test in group))


def _char_test(body: _Tree) -> _CharTest:
    """What one step of a repetition can consume; anything but a single character class counts as "anything"."""
    if len(body) == 1:
        op, arg = body[0]
        if op is sre.LITERAL:
            return partial(str.__eq__, chr(arg))
        if op is sre.NOT_LITERAL:
            return partial(str.__ne__, chr(arg))
        if op is sre.IN:
            return partial(_in_class, tuple(arg))
        if op is sre.ANY:
            return partial(str.__ne__, "\n")
    return partial(_anything)


def _anything(char: str) -> bool:
    return True


_CATEGORY_TESTS = {
    sre.CATEGORY_DIGIT: str.isdecimal,
    sre.CATEGORY_NOT_DIGIT: lambda c: not c.isdecimal(),
    sre.CATEGORY_SPACE: str.isspace,
    sre.CATEGORY_NOT_SPACE: lambda c: not c.isspace(),
    sre.CATEGORY_WORD: lambda c: c.isalnum() or c == "_",
    sre.CATEGORY_NOT_WORD: lambda c: not (c.isalnum() or c == "_"),
}


def _in_class(items: tuple[tuple[Any, Any], ...], char: str) -> bool:
    """Whether a character class can match `char`; True when unsure (the guard only errs towards rejecting)."""
    negate = False
    hit = False
    for op, arg in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            hit = hit or char == chr(arg)
        elif op is sre.RANGE:
            hit = hit or arg[0] <= ord(char) <= arg[1]
        elif op is sre.CATEGORY and arg in _CATEGORY_TESTS:
            hit = hit or _CATEGORY_TESTS[arg](char)
        else:
            return True
    return hit != negate


def _choices(tree: _Tree) -> int:
    """How many ways the short optional pieces give to try at one position (long repetitions are rule 4's)."""
    total = 1
    for op, arg in tree:
        if op in _REPEATS:
            low, high, body = arg
            span = 1 if _is_long(low, high) else high - low + 1
            total *= span * _choices(body)
        elif op is sre.BRANCH:
            counts = [_choices(branch) for branch in arg[1]]
            total *= max(counts) if _exclusive(arg[1]) else sum(counts)
        elif op is sre.SUBPATTERN:
            total *= _choices(arg[3])
        elif op in _LOOKAROUNDS:
            total *= _choices(arg[1])
        elif op is sre.ATOMIC_GROUP:
            total *= _choices(arg)
    return total


def _requirements(tree: _Tree) -> list[frozenset[str]]:
    """Sets of literals such that every match contains at least one literal of each set."""
    found: list[frozenset[str]] = []
    run: list[str] = []
    for op, arg in tree:
        if op is sre.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            found.append(frozenset({"".join(run)}))
            run = []
        if op is sre.SUBPATTERN:
            found += _requirements(arg[3])
        elif op is sre.ATOMIC_GROUP:
            found += _requirements(arg)
        elif op in _REPEATS and arg[0] >= 1:
            found += _requirements(arg[2])
        elif op is sre.BRANCH:
            options = [_best_requirement(_requirements(branch)) for branch in arg[1]]
            if all(option is not None for option in options):
                found.append(frozenset().union(*options))
        elif op is sre.IN and all(item_op is sre.LITERAL for item_op, _ in arg):
            found.append(frozenset(chr(code) for _, code in arg))
    if run:
        found.append(frozenset({"".join(run)}))
    return found


def _best_requirement(requirements: list[frozenset[str]]) -> frozenset[str] | None:
    """The most selective requirement: longest shortest literal, then fewest alternatives."""
    return max(requirements, key=lambda r: (min(map(len, r)), -len(r)), default=None)


# --------------------------------------------------------------------------------------------- conflicts


def _describe(rule: Rule) -> str:
    return f"rule {rule.id} “{rule.name}”"


def _why_wins(winner: Rule, loser: Rule, winner_keyword: str, loser_keyword: str) -> str:
    if winner.priority != loser.priority:
        return f"priority {winner.priority} > {loser.priority}"
    if len(winner_keyword) != len(loser_keyword):
        return "same priority, longer keyword"
    return "same priority, lower id"


def _never_fires(rules: tuple[Rule, ...], now: datetime | None) -> list[Conflict]:
    found = []
    for rule in rules:
        if not rule.enabled:
            reason = "it is disabled"
        elif rule.starts is not None and rule.ends is not None and rule.ends <= rule.starts:
            reason = f"its window ends ({rule.ends.isoformat()}) before or when it starts ({rule.starts.isoformat()})"
        elif now is not None and rule.ends is not None and rule.ends <= now:
            reason = f"its window closed at {rule.ends.isoformat()}"
        else:
            continue
        found.append(Conflict("never_fires", rule, None, None, f"{_describe(rule)} never fires: {reason}."))
    return found


def _exact_shadowed(
    rules: tuple[Rule, ...], exact: dict[str, tuple[_Entry, ...]], not_before: float, silent: frozenset[int]
) -> list[Conflict]:
    """Per shared exact keyword, each lower-ranked rule loses to the best rule whose window overlaps its own."""
    found = []
    for norm, entries in exact.items():
        if len(entries) < 2:
            continue
        live = [entry for entry in entries if rules[entry[4]].id not in silent]
        for place, (_rank, _timed, starts, ends, position, keyword, _norm) in enumerate(live):
            for _, _, other_starts, other_ends, other_position, _, _ in live[:place]:
                if _overlaps(starts, ends, other_starts, other_ends, not_before):
                    loser, winner = rules[position], rules[other_position]
                    why = _why_wins(winner, loser, norm, norm)
                    message = (
                        f"{_describe(loser)} never answers “{keyword}” while {_describe(winner)} is active:"
                        f" both have the exact keyword “{norm}” and the other wins ({why})."
                    )
                    found.append(Conflict("exact_shadowed", loser, winner, keyword, message))
                    break
    return found


def _automaton(patterns: dict[str, int]) -> ahocorasick.Automaton:
    """Every occurrence, overlapping, of each pattern; an occurrence is (end position, the pattern's index).

    pyahocorasick scans holding the GIL. The matcher runs on handler threads beside the event loop, and a scan that
    releases the GIL (ahocorasick_rs does, on every call) then waits behind the loop to get it back: 0.26 µs alone
    became 79 µs per call with one busy thread beside it, against 0.28 µs here."""
    automaton = ahocorasick.Automaton()
    for pattern, index in patterns.items():
        automaton.add_word(pattern, index)
    automaton.make_automaton()
    return automaton


def _contains_shadowed(
    rules: tuple[Rule, ...],
    automaton: ahocorasick.Automaton,
    contains_at: tuple[tuple[_Entry, ...], ...],
    not_before: float,
    silent: frozenset[int],
) -> list[Conflict]:
    """Contains rule B is dominated by rule A when every keyword of B contains a keyword of A ranked above it.

    Then any message that B's keywords hit also hits A's better keyword, so B cannot win while A is active.
    Candidates come from running the automaton over B's best keyword; each is checked against B's others.
    """
    by_rule: dict[int, list[_Entry]] = {}
    for entries in contains_at:
        for entry in entries:
            by_rule.setdefault(entry[4], []).append(entry)
    found = []
    for position, entries in by_rule.items():
        if rules[position].id in silent:
            continue
        entries.sort()
        single = len(entries) == 1
        for winner in _ranked_above(rules, automaton, contains_at, entries[0], not_before, silent, single=single):
            if all(_covers(by_rule[winner[4]], entry) for entry in entries[1:]):
                found.append(_dominated(rules, entries, winner))
                break
    return found


def _ranked_above(
    rules: tuple[Rule, ...],
    automaton: ahocorasick.Automaton,
    contains_at: tuple[tuple[_Entry, ...], ...],
    entry: _Entry,
    not_before: float,
    silent: frozenset[int],
    *,
    single: bool,
) -> Iterator[_Entry]:
    """Other rules' entries for keywords inside `entry`'s keyword that rank above it and can be active with it.

    Yielded best-first, one per rule. With `single`, only the best entry per inner keyword is needed.
    """
    rank, _timed, starts, ends, position, _keyword, norm = entry
    candidates: dict[int, _Entry] = {}
    for _end, index in automaton.iter(norm):
        for other in contains_at[index]:
            if other[0] >= rank:
                break
            other_position = other[4]
            if other_position == position or rules[other_position].id in silent:
                continue
            if _overlaps(starts, ends, other[2], other[3], not_before):
                if other_position not in candidates or candidates[other_position][0] > other[0]:
                    candidates[other_position] = other
                if single:
                    break
    yield from sorted(candidates.values())


def _covers(entries: list[_Entry], target: _Entry) -> bool:
    """Whether one of `entries` has a keyword inside `target`'s keyword and ranks above it."""
    return any(entry[0] < target[0] and entry[6] in target[6] for entry in entries)


def _dominated(rules: tuple[Rule, ...], entries: list[_Entry], winner: _Entry) -> Conflict:
    loser, by = rules[entries[0][4]], rules[winner[4]]
    keywords = "、".join(f"“{entry[5]}”" for entry in entries)
    why = _why_wins(by, loser, winner[6], entries[0][6])
    message = (
        f"{_describe(loser)} can never win while {_describe(by)} is active: each of its keywords ({keywords})"
        f" contains a keyword of the other rule, such as “{winner[5]}”, that ranks higher ({why})."
    )
    return Conflict("contains_shadowed", loser, by, entries[0][5], message)
