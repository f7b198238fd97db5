"""Product search over an in-memory inverted index: free Chinese text in, ranked products (with the best SKU) out.

The index is built from the database in one pass (`SearchIndex.build()`), never changes afterwards, and is
swapped whole by `SearchService.rebuild()`, so a search never sees half an index and needs no lock.

A query word reaches index terms through itself, built-in variants, the lexicon (synonyms 0.9, narrower words of
a broad one 0.8 of their impact), category names, or its pinyin; a word reaching none of those is looked for in
descriptions and by its character pairs ("weak": ranked after product words, and not enough for the engine to
take chat for a search). Traditional characters are converted first.

Ranking, best first (OR semantics: no word is required):
1. how many words the product matches as product words, then how many at all;
2. in stock before sold out (stock as of the build; the product card shows live stock);
3. a BM25F-style score: each word's weight (rarer words weigh more) times its field-weighted frequency in the
   product — title 3, tags 2, leaf category 2, parent categories 1, spec values 1.5, description and character
   pairs 0.5 — with a gentle length normalisation, precomputed per (term, product) at build time so a query only
   adds numbers up; with "便宜" the price (lowest first) replaces the score;
4. product id, so equal products keep a stable order across pages.

Words matched only through spec values ("红色", "粉" → 粉色, "256gb") must be carried by the SKU the hit shows;
price filters apply to that SKU too. Only on-sale products and SKUs are indexed. When nothing matches,
`suggestions` names categories whose names share words or characters with the query and `closest` a few of
their products.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from store.catalog.products import Category, Product, Sku
from store.search.build import BIGRAM, DESCRIPTION, PINYIN, build_index
from store.search.lexicon import Lexicon, LexiconError, load_lexicon
from store.search.text import (
    EXPANSIONS,
    PriceFilter,
    bigrams,
    document_terms,
    normalise,
    parse_price,
    query_tokens,
    sub_terms,
    to_simplified,
)

log = logging.getLogger(__name__)

MAX_SUGGESTIONS = 4

# Rows the index is built from (plain tuples, so tests and benchmarks can build one without a database).
CategoryRow = tuple[int, int | None, str, str]  # id, parent id, name, path
ProductRow = tuple[int, str, int, str, str]  # id, title, category id, tags, description
SkuRow = tuple[int, int, str, int, int]  # id, product id, spec, price in fen, stock
# A ranked candidate: (words matched as product words, words matched at all, product position, SKU position
# shown, in stock, score).
_Entry = tuple[int, int, int, int, bool, float]
MAX_CLOSEST = 3


@dataclass(frozen=True)
class Match:
    """Why a hit matched one query word: the index term (without its namespace), how it was reached (词 the word
    itself, 同义 a synonym, 上位 a narrower word of a broad one, 分类 a category name, 扩展 a built-in variant, 拼音,
    字组 a shared character pair, 描述 the description), and the impact it added to the score."""

    word: str
    term: str
    via: str
    impact: float


@dataclass(frozen=True)
class SearchHit:
    product_id: int
    sku_id: int
    title: str
    spec: str
    price_fen: int
    in_stock: bool
    score: float
    coverage: int
    matches: tuple[Match, ...] = ()


@dataclass(frozen=True)
class CategorySuggestion:
    category_id: int
    path: str


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: tuple[SearchHit, ...]
    total: int
    price: PriceFilter
    terms: tuple[str, ...]
    unmatched: tuple[str, ...]
    suggestions: tuple[CategorySuggestion, ...]
    closest: tuple[SearchHit, ...] = ()  # on a miss: products of the suggested categories, to offer instead
    looked_for: tuple[str, ...] = ()  # the words searched, with their synonyms and narrower words
    strengths: tuple[tuple[str, bool], ...] = ()  # each word, and whether it matched as a product word

    @property
    def confident(self) -> bool:
        """Every word of the text is a product word (not only a description word or a shared character pair):
        a bare "红色连衣裙" is a search, "质量怎么样" is not."""
        return bool(self.hits) and bool(self.terms) and not self.unmatched and all(s for _, s in self.strengths)


# How a query word reaches index terms; the factor scales the term's impact (the shopper's own word ranks first).
_VIA_FACTOR: Mapping[str, float] = MappingProxyType(
    {"词": 1.0, "扩展": 1.0, "分类": 1.0, "拼音": 1.0, "同义": 0.9, "上位": 0.8, "描述": 1.0, "字组": 1.0}
)
_WEAK = frozenset({"描述", "字组"})
_PREFIX = {"描述": DESCRIPTION, "字组": BIGRAM, "拼音": PINYIN}


@dataclass(frozen=True, slots=True)
class _Group:
    """One query word and the index terms that satisfy it, each with how it was reached."""

    word: str
    terms: tuple[tuple[str, str], ...]  # (index term, via)
    strong: bool = field(init=False)  # reached as a product word (not only a description or character pair)
    names: frozenset[str] = field(init=False)  # the index terms alone

    def __post_init__(self) -> None:  # computed once: ranking reads them for every candidate
        object.__setattr__(self, "strong", any(via not in _WEAK for _, via in self.terms))
        object.__setattr__(self, "names", frozenset(t for t, _ in self.terms))


@dataclass(frozen=True, slots=True)
class SearchIndex:
    # term → {product position: impact}; a negative impact means the term is only in some SKUs' spec values,
    # so the SKU shown must carry it (kept in the sign rather than in a per-product term set, to save memory)
    postings: Mapping[str, Mapping[int, float]]
    product_ids: tuple[int, ...]
    product_titles: tuple[str, ...]
    product_skus: tuple[tuple[int, ...], ...]  # SKU positions of each product
    sku_ids: tuple[int, ...]
    sku_product: tuple[int, ...]  # product position of each SKU
    sku_specs: tuple[str, ...]
    sku_prices: tuple[int, ...]
    sku_in_stock: tuple[bool, ...]
    sku_terms: tuple[frozenset[str], ...]
    prices_sorted: tuple[int, ...]
    prices_sku: tuple[int, ...]  # SKU position for each entry of prices_sorted
    categories: tuple[tuple[int, str, str, int], ...]  # id, path, name (normalised), level
    category_words: Mapping[str, frozenset[str]]  # category names (as terms) by character they contain
    product_min_price: tuple[int, ...]
    product_max_price: tuple[int, ...]
    category_samples: Mapping[int, tuple[int, ...]]  # category id → a few product positions in it, in stock first
    lexicon: Lexicon

    @classmethod
    def build(cls, lexicon: Lexicon | None = None) -> SearchIndex:
        """Read the on-sale catalog from the database and index it (with the shipped lexicon unless given one)."""
        categories = Category.select(Category.id, Category.parent, Category.name, Category.path).tuples()
        products = (
            Product.select(Product.id, Product.title, Product.category, Product.tags, Product.description)
            .where(Product.on_sale == True)  # noqa: E712
            .tuples()
        )
        skus = (
            Sku.select(Sku.id, Sku.product, Sku.spec, Sku.price_fen, Sku.stock)
            .where(Sku.on_sale == True)  # noqa: E712
            .order_by(Sku.id)
            .tuples()
        )
        return cls.from_rows(list(categories), list(products), list(skus), lexicon)

    @classmethod
    def from_rows(
        cls,
        categories: Iterable[CategoryRow],
        products: Iterable[ProductRow],
        skus: Iterable[SkuRow],
        lexicon: Lexicon | None = None,
    ) -> SearchIndex:
        return build_index(cls, list(categories), list(products), list(skus), lexicon or load_lexicon())

    @property
    def size(self) -> tuple[int, int, int]:
        """(products, SKUs, distinct terms)."""
        return len(self.product_ids), len(self.sku_ids), len(self.postings)

    # ---- query ------------------------------------------------------------------------------------------

    def search(self, text: str, limit: int = 8, offset: int = 0, explain: bool = True) -> SearchResult:
        """Ranked hits for `text`; with `explain`, each hit says which term carried each word (`SearchHit.matches`:
        the CLI's explanation; a chat reply never shows it, and it is a third of a search's time)."""
        price, groups, unmatched = self._read(text)
        return self._result(text, price, groups, unmatched, limit, offset, explain)

    def named_products(self, text: str, limit: int = 8, offset: int = 0) -> SearchResult | None:
        """The result of `search(text, limit, offset, explain=False)` when it is `confident` (every word a product
        word, something found), else None. Stops as soon as the words say no, without ranking or looking for
        suggestions: most texts asked about are chat, not product words."""
        price, rest = parse_price(normalise(to_simplified(text)))
        groups, unmatched = self._groups(query_tokens(rest), strong_only=True)
        if not groups or unmatched:
            return None
        result = self._result(text, price, groups, unmatched, limit, offset, explain=False)
        return result if result.hits else None

    def _read(self, text: str) -> tuple[PriceFilter, list[_Group], list[str]]:
        """The price phrase, then each remaining word with the index terms it reaches (or unmatched)."""
        price, rest = parse_price(normalise(to_simplified(text)))
        groups, unmatched = self._groups(query_tokens(rest))
        return price, groups, unmatched

    def _result(
        self,
        text: str,
        price: PriceFilter,
        groups: list[_Group],
        unmatched: list[str],
        limit: int,
        offset: int,
        explain: bool,
    ) -> SearchResult:
        if groups:
            ranked, total = self._rank_matches(groups, price, offset + limit)
        elif price.active and not unmatched:
            ranked = self._rank_by_price(price)
            total = len(ranked)
        else:
            ranked, total = [], 0
        hits = tuple(self._hit(entry, groups if explain else []) for entry in ranked[offset : offset + limit])
        suggestions = () if ranked else self._suggest([g.word for g in groups] + unmatched)
        return SearchResult(
            query=text,
            hits=hits,
            total=total,
            price=price,
            terms=tuple(g.word for g in groups),
            unmatched=tuple(unmatched),
            suggestions=suggestions,
            closest=() if ranked else self._closest(suggestions),
            looked_for=tuple(dict.fromkeys(w for g in groups for w in _looked_for(g))) + tuple(unmatched),
            strengths=tuple((g.word, g.strong) for g in groups),
        )

    def _strong_terms(self, token: str) -> list[tuple[str, str]]:
        """The index terms a word reaches through itself, variants, the lexicon, category names and pinyin."""
        found: list[tuple[str, str]] = [(token, "词")]
        found.extend((t, "扩展") for t in EXPANSIONS.get(token, ()))
        found.extend((t, "同义") for t in sorted(self.lexicon.synonyms.get(token, ())))
        for narrower in self.lexicon.hypernyms.get(token, ()):
            found.append((narrower, "上位"))
            found.extend((t, "上位") for t in sorted(self.lexicon.synonyms.get(narrower, ())))
        if len(token) == 1:
            found.extend((t, "分类") for t in sorted(self._category_names_containing(token)))
        if len(token) >= 3 and token.isascii() and token.isalpha():
            found.append((PINYIN + token, "拼音"))
        known: dict[str, str] = {}
        for term, via in found:
            if term in self.postings and term not in known:
                known[term] = via
        return list(known.items())

    def _weak_terms(self, token: str) -> list[tuple[str, str]]:
        found = [(DESCRIPTION + token, "描述"), *((BIGRAM + p, "字组") for p in dict.fromkeys(bigrams(token)))]
        return [(t, via) for t, via in found if t in self.postings]

    def _groups(self, tokens: list[str], strong_only: bool = False) -> tuple[list[_Group], list[str]]:
        """Each word with the index terms it reaches, or unmatched. With `strong_only`, the first word that is no
        product word ends it (the caller only asks whether every word is one), returned as unmatched."""
        groups: list[_Group] = []
        unmatched: list[str] = []
        seen: set[str] = set()
        previous = ""
        for token in tokens:
            before, previous = previous, token
            if token in seen:
                continue
            seen.add(token)
            strong = self._strong_terms(token)
            if strong:
                groups.append(_Group(token, tuple(strong)))
                continue
            finer = sub_terms(token) or (document_terms(token) if len(token) >= 4 else [])
            parts = [p for p in dict.fromkeys(finer) if p != token and p not in seen]
            part_groups = [_Group(p, tuple(t)) for p in parts if (t := self._strong_terms(p))]
            if part_groups:
                groups.extend(part_groups)
                seen.update(g.word for g in part_groups)
                continue
            stem = token[0] if len(token) == 2 and token.endswith("子") else ""  # 裙子 → 裙, 鞋子 → 鞋
            names = self._category_names_containing(stem or token)
            if names:
                groups.append(_Group(token, tuple((n, "分类") for n in sorted(names))))
                continue
            if strong_only:
                return groups, [token]
            joined = self._joined_with_fragment(groups, before, token)
            if joined is not None:
                groups[-1] = joined
            elif weak := self._weak_terms(token):
                groups.append(_Group(token, tuple(weak)))
            else:
                unmatched.append(token)
        return groups, unmatched

    def _joined_with_fragment(self, groups: list[_Group], before: str, token: str) -> _Group | None:
        """jieba splits an unknown compound into a character and the rest (电饭盆 → 电, 饭盆): when the rest is
        unknown, search the whole compound by its character pairs instead of the lone character (电饭 → 电饭煲,
        智能电饭锅), which would match anything with 电 in it."""
        last = groups[-1] if groups else None
        if last is None or last.word != before or len(before) != 1 or before.isascii():
            return None
        weak = self._weak_terms(before + token)
        return _Group(before + token, tuple(weak)) if weak else None

    def _category_names_containing(self, token: str) -> frozenset[str]:
        """Category names that contain an otherwise unknown word: "鞋" → 运动鞋, 帆布鞋."""
        found: frozenset[str] | None = None
        for char in set(token):
            names = self.category_words.get(char, frozenset())
            found = names if found is None else found & names
        return frozenset(n for n in found or () if token in n)

    def _posting(self, group: _Group) -> Mapping[int, float]:
        """The best impact per product through any of the word's terms (scaled by how each was reached)."""
        if len(group.terms) == 1 and _VIA_FACTOR[group.terms[0][1]] == 1.0:
            return self.postings[group.terms[0][0]]
        merged: dict[int, float] = {}
        for term, via in group.terms:
            posting, factor = self.postings[term], _VIA_FACTOR[via]
            if not merged and factor == 1.0:
                merged.update(posting)
                continue
            for pos, impact in posting.items():
                impact *= factor
                old = merged.get(pos)
                if old is None or (impact > 0, abs(impact)) > (old > 0, abs(old)):
                    merged[pos] = impact
        return merged

    def _rank_matches(self, groups: list[_Group], price: PriceFilter, wanted: int) -> tuple[list[_Entry], int]:
        """OR over the words: a product matching more of them (as product words) ranks first, but one word it
        lacks does not hide it. Products are bucketed by how many words they match (counted in C); buckets are
        scored from the fullest down only until `wanted` entries are placed, since a product in a lower bucket
        cannot outrank them. Returns the ranked entries and the total (the unscored buckets counted by price
        range, without choosing their SKU)."""
        postings = [self._posting(g) for g in groups]
        if len(groups) > 1:  # the common case first: enough products have every word (set operations, in C)
            keys = sorted((p.keys() for p in postings), key=len)
            full = set(keys[0]).intersection(*keys[1:])
            entries = self._score(full, groups, postings, price)
            if sum(1 for e in entries if e[0] == len(groups)) >= wanted:
                rest = set().union(*keys) - full
                return self._order(entries, price), len(entries) + self._count_in_range(rest, price)
        counts: Counter[int] = Counter()
        for posting in postings:
            counts.update(posting.keys())
        buckets: dict[int, list[int]] = {}
        for pos, n in counts.items():
            buckets.setdefault(n, []).append(pos)
        levels = sorted(buckets, reverse=True)
        entries: list[_Entry] = []
        for i, level in enumerate(levels):
            entries.extend(self._score(buckets[level], groups, postings, price))
            below = levels[i + 1] if i + 1 < len(levels) else 0
            if i + 1 < len(levels) and sum(1 for e in entries if e[0] > below) >= wanted:
                rest = [p for level in levels[i + 1 :] for p in buckets[level]]
                return self._order(entries, price), len(entries) + self._count_in_range(rest, price)
        return self._order(entries, price), len(entries)

    def _count_in_range(self, positions: Collection[int], price: PriceFilter) -> int:
        if price.min_fen is None and price.max_fen is None:
            return len(positions)
        low, high = price.min_fen or 0, price.max_fen if price.max_fen is not None else 1 << 62
        lows, highs = self.product_min_price, self.product_max_price
        return sum(1 for p in positions if lows[p] <= high and highs[p] >= low)

    def _score(
        self,
        candidates: Iterable[int],
        groups: list[_Group],
        postings: list[Mapping[int, float]],
        price: PriceFilter,
    ) -> list[_Entry]:
        """Entries for the candidates with a SKU in the price range; the SKU shown is the one carrying the most
        spec-only words, then in stock, then cheapest."""
        entries = []
        sku_prices, sku_terms, sku_in_stock = self.sku_prices, self.sku_terms, self.sku_in_stock
        low = price.min_fen if price.min_fen is not None else -1
        high = price.max_fen if price.max_fen is not None else 1 << 62
        pairs = [(g.names, g.strong, p) for g, p in zip(groups, postings, strict=True)]
        for pos in candidates:
            score = 0.0
            strong_hits = weak_hits = 0
            spec_only: list[frozenset[str]] = []
            for terms, strong, posting in pairs:
                impact = posting.get(pos)
                if impact is None:
                    continue
                if impact < 0:
                    score -= impact
                    spec_only.append(terms)
                else:
                    score += impact
                    if strong:
                        strong_hits += 1
                    else:
                        weak_hits += 1
            best: tuple[int, bool, int, int] | None = None
            for s in self.product_skus[pos]:
                if not low <= sku_prices[s] <= high:
                    continue
                if not spec_only:
                    spec_hits = 0
                elif len(spec_only) == 1:  # the usual case: one colour or size word
                    spec_hits = 0 if spec_only[0].isdisjoint(sku_terms[s]) else 1
                else:
                    held = sku_terms[s]
                    spec_hits = sum(1 for terms in spec_only if not terms.isdisjoint(held))
                key = (spec_hits, sku_in_stock[s], -sku_prices[s], -s)
                if best is None or key > best:
                    best = key
            if best is None or strong_hits + best[0] + weak_hits == 0:
                continue
            strength = strong_hits + best[0]
            entries.append((strength, strength + weak_hits, pos, -best[3], best[1], score))
        return entries

    def _order(self, entries: list[_Entry], price: PriceFilter) -> list[_Entry]:
        if not entries:
            return []
        if price.cheap:
            if price.max_fen is None:
                top = max(e[:2] for e in entries)
                prices = sorted(self.sku_prices[e[3]] for e in entries if e[:2] == top)
                median = prices[(len(prices) - 1) // 2]
                entries = [e for e in entries if self.sku_prices[e[3]] <= median]
            return sorted(
                entries, key=lambda e: (-e[0], -e[1], not e[4], self.sku_prices[e[3]], self.product_ids[e[2]])
            )
        return sorted(entries, key=lambda e: (-e[0], -e[1], not e[4], -e[5], self.product_ids[e[2]]))

    def _rank_by_price(self, price: PriceFilter) -> list[_Entry]:
        """Only a price was asked for ("200以内的"): every product with a SKU in range, cheapest first."""
        low = bisect.bisect_left(self.prices_sorted, price.min_fen or 0)
        high = len(self.prices_sorted)
        if price.max_fen is not None:
            high = bisect.bisect_right(self.prices_sorted, price.max_fen)
        best: dict[int, tuple[bool, int, int]] = {}
        for i in range(low, high):
            s = self.prices_sku[i]
            pos = self.sku_product[s]
            key = (self.sku_in_stock[s], -self.sku_prices[s], -s)
            if pos not in best or key > best[pos]:
                best[pos] = key
        entries: list[_Entry] = [(0, 0, pos, -key[2], key[0], 0.0) for pos, key in best.items()]
        return sorted(entries, key=lambda e: (not e[4], self.sku_prices[e[3]], self.product_ids[e[2]]))

    def _hit(self, entry: _Entry, groups: list[_Group]) -> SearchHit:
        _, coverage, pos, s, in_stock, score = entry
        return SearchHit(
            product_id=self.product_ids[pos],
            sku_id=self.sku_ids[s],
            title=self.product_titles[pos],
            spec=self.sku_specs[s],
            price_fen=self.sku_prices[s],
            in_stock=in_stock,
            score=round(score, 4),
            coverage=coverage,
            matches=tuple(m for g in groups if (m := self._match(g, pos, s)) is not None),
        )

    def _match(self, group: _Group, pos: int, s: int) -> Match | None:
        """The term that carried `group` for the product (a spec-only term only if the SKU shown has it)."""
        best: Match | None = None
        for term, via in group.terms:
            impact = self.postings[term].get(pos)
            if impact is None or (impact < 0 and term not in self.sku_terms[s]):
                continue
            value = round(abs(impact) * _VIA_FACTOR[via], 4)
            if best is None or (via not in _WEAK, value) > (best.via not in _WEAK, best.impact):
                best = Match(group.word, term.removeprefix(_PREFIX.get(via, "")), via, value)
        return best

    def _closest(self, suggestions: tuple[CategorySuggestion, ...]) -> tuple[SearchHit, ...]:
        """A few products of the suggested categories, to offer when nothing matched."""
        positions = dict.fromkeys(p for c in suggestions for p in self.category_samples.get(c.category_id, ()))
        hits = []
        for pos in list(positions)[:MAX_CLOSEST]:
            s = min(self.product_skus[pos], key=lambda k: (not self.sku_in_stock[k], self.sku_prices[k], k))
            hits.append(self._hit((0, 0, pos, s, self.sku_in_stock[s], 0.0), []))
        return tuple(hits)

    def _suggest(self, words: list[str]) -> tuple[CategorySuggestion, ...]:
        """Categories whose names share words or characters with the query; the top level when none does."""
        words = [w for w in words if w]
        chars = {c for w in words for c in w if not c.isascii()}
        scored = []
        for category_id, path, name, level in self.categories:
            score = 0
            for word in words:
                if word == name:
                    score += 6
                elif word in name or name in word:
                    score += 3
            score += len(chars & set(name))
            if score:
                scored.append((-score, -level, category_id, path))
        if not scored:
            return tuple(CategorySuggestion(c[0], c[1]) for c in self.categories if c[3] == 1)[:MAX_SUGGESTIONS]
        return tuple(CategorySuggestion(c, p) for _, _, c, p in sorted(scored)[:MAX_SUGGESTIONS])


def _looked_for(group: _Group) -> list[str]:
    """The word and the product words it reached through variants and the lexicon."""
    return [group.word] + [t for t, via in group.terms if via in ("扩展", "同义", "上位", "分类") and t != group.word]


class SearchService:
    """Holds the current index. `rebuild()` builds a new one to the side and swaps the reference in one
    assignment, so searches running meanwhile finish on the old one. The lexicon (shipped, plus the operator's
    `lexicon_file`) is read again at each rebuild; a broken operator file is logged and the last good lexicon
    kept, so a typo never stops the search."""

    def __init__(self, index: SearchIndex | None = None, lexicon_file: Path | None = None) -> None:
        self._index = index
        self._build_lock = threading.Lock()
        self._lexicon_file = lexicon_file
        self._lexicon: Lexicon | None = index.lexicon if index is not None else None

    def _read_lexicon(self) -> Lexicon:
        try:
            self._lexicon = load_lexicon(self._lexicon_file)
        except LexiconError as exc:
            log.warning("search lexicon not reloaded, keeping the last good one", extra={"error": str(exc)})
            if self._lexicon is None:
                self._lexicon = load_lexicon()
        return self._lexicon

    @property
    def index(self) -> SearchIndex:
        """The current index, built on first use (once, however many threads ask)."""
        index = self._index
        if index is None:
            with self._build_lock:
                if self._index is None:
                    self._index = SearchIndex.build(self._read_lexicon())
                index = self._index
        return index

    def rebuild(self) -> SearchIndex:
        """Build from the database now (after an import, on an invalidation message) and swap it in."""
        with self._build_lock:
            index = SearchIndex.build(self._read_lexicon())
            self._index = index
            return index

    def search(self, text: str, limit: int = 8, offset: int = 0) -> SearchResult:
        return self.index.search(text, limit=limit, offset=offset)
