"""Product search over an in-memory inverted index: free Chinese text in, ranked products (with the best SKU) out.

The index is built from the database in one pass (`SearchIndex.build()`), never changes afterwards, and is
swapped whole by `SearchService.rebuild()`, so a search never sees half an index and needs no lock.

Ranking, best first:
1. coverage: how many of the query's words the product matches (all of them, when any product does);
2. in stock before sold out (stock as of the build; the product card shows live stock);
3. a BM25F-style score: each word's weight (rarer words weigh more) times its field-weighted frequency in the
   product — title 3, tags 2, leaf category 2, parent categories 1, spec values 1.5 — with a gentle length
   normalisation, precomputed per (word, product) at build time so a query only adds numbers up;
   with "便宜" the price (lowest first) replaces the score;
4. product id, so equal products keep a stable order across pages.

Words matched only through spec values ("红色", "256gb") must be carried by the SKU the hit shows; price filters
apply to that SKU too. Only on-sale products and SKUs are indexed. When nothing matches, `suggestions` names
categories whose names share words or characters with the query.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from store.catalog import Category, Product, Sku
from store.search_build import build_index
from store.search_text import (
    EXPANSIONS,
    PriceFilter,
    document_terms,
    normalise,
    parse_price,
    query_tokens,
    sub_terms,
)

MAX_SUGGESTIONS = 4

# Rows the index is built from (plain tuples, so tests and benchmarks can build one without a database).
CategoryRow = tuple[int, int | None, str, str]  # id, parent id, name, path
ProductRow = tuple[int, str, int, str]  # id, title, category id, tags
SkuRow = tuple[int, int, str, int, int]  # id, product id, spec, price in fen, stock
# A ranked candidate: (words covered, product position, SKU position shown, in stock, score).
_Entry = tuple[int, int, int, bool, float]


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


@dataclass(frozen=True, slots=True)
class _Group:
    """One query word and the index terms that satisfy it (itself, synonyms, matching category names)."""

    word: str
    terms: frozenset[str]


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

    @classmethod
    def build(cls) -> SearchIndex:
        """Read the on-sale catalog from the database and index it."""
        categories = Category.select(Category.id, Category.parent, Category.name, Category.path).tuples()
        products = (
            Product.select(Product.id, Product.title, Product.category, Product.tags)
            .where(Product.on_sale == True)  # noqa: E712
            .tuples()
        )
        skus = (
            Sku.select(Sku.id, Sku.product, Sku.spec, Sku.price_fen, Sku.stock)
            .where(Sku.on_sale == True)  # noqa: E712
            .order_by(Sku.id)
            .tuples()
        )
        return cls.from_rows(list(categories), list(products), list(skus))

    @classmethod
    def from_rows(
        cls, categories: Iterable[CategoryRow], products: Iterable[ProductRow], skus: Iterable[SkuRow]
    ) -> SearchIndex:
        return build_index(cls, list(categories), list(products), list(skus))

    @property
    def size(self) -> tuple[int, int, int]:
        """(products, SKUs, distinct terms)."""
        return len(self.product_ids), len(self.sku_ids), len(self.postings)

    # ---- query ------------------------------------------------------------------------------------------

    def search(self, text: str, limit: int = 8, offset: int = 0) -> SearchResult:
        price, rest = parse_price(normalise(text))
        groups, unmatched = self._groups(query_tokens(rest))
        if groups:
            ranked = self._rank_matches(groups, price)
        elif price.active and not unmatched:
            ranked = self._rank_by_price(price)
        else:
            ranked = []
        hits = tuple(self._hit(entry) for entry in ranked[offset : offset + limit])
        suggestions = () if ranked else self._suggest([g.word for g in groups] + unmatched)
        return SearchResult(
            query=text,
            hits=hits,
            total=len(ranked),
            price=price,
            terms=tuple(g.word for g in groups),
            unmatched=tuple(unmatched),
            suggestions=suggestions,
        )

    def _groups(self, tokens: list[str]) -> tuple[list[_Group], list[str]]:
        groups: list[_Group] = []
        unmatched: list[str] = []
        seen: set[str] = set()
        for token in tokens:
            if token in seen:
                continue
            seen.add(token)
            known = {t for t in (token, *EXPANSIONS.get(token, ())) if t in self.postings}
            if len(token) == 1:
                known |= self._category_names_containing(token)
            if known:
                groups.append(_Group(token, frozenset(known)))
                continue
            finer = sub_terms(token) or (document_terms(token) if len(token) >= 4 else [])
            parts = [p for p in finer if p != token and p in self.postings]
            if parts:
                groups.extend(_Group(p, frozenset({p})) for p in dict.fromkeys(parts) if p not in seen)
                seen.update(parts)
                continue
            stem = token[0] if len(token) == 2 and token.endswith("子") else ""  # 裙子 → 裙, 鞋子 → 鞋
            names = self._category_names_containing(stem or token)
            if names:
                groups.append(_Group(token, names))
            else:
                unmatched.append(token)
        return groups, unmatched

    def _category_names_containing(self, token: str) -> frozenset[str]:
        """Category names that contain an otherwise unknown word: "鞋" → 运动鞋, 帆布鞋."""
        found: frozenset[str] | None = None
        for char in set(token):
            names = self.category_words.get(char, frozenset())
            found = names if found is None else found & names
        return frozenset(n for n in found or () if token in n)

    def _posting(self, group: _Group) -> Mapping[int, float]:
        terms = list(group.terms)
        if len(terms) == 1:
            return self.postings[terms[0]]
        merged: dict[int, float] = dict(self.postings[terms[0]])
        for term in terms[1:]:
            for pos, impact in self.postings[term].items():
                old = merged.get(pos)
                if old is None or (impact > 0, abs(impact)) > (old > 0, abs(old)):
                    merged[pos] = impact
        return merged

    def _rank_matches(self, groups: list[_Group], price: PriceFilter) -> list[_Entry]:
        postings = [self._posting(g) for g in groups]
        ordered = sorted(postings, key=len)
        smallest, others = ordered[0], ordered[1:]
        candidates: Iterable[int] = [p for p in smallest if all(p in d for d in others)]
        entries = self._score(candidates, groups, postings, price, len(groups))
        if not entries and len(groups) > 1:  # nothing has every word: rank what has some
            entries = self._score(set().union(*postings), groups, postings, price, 1)
        return self._order(entries, price)

    def _score(
        self,
        candidates: Iterable[int],
        groups: list[_Group],
        postings: list[Mapping[int, float]],
        price: PriceFilter,
        need: int,
    ) -> list[_Entry]:
        """Entries for the candidates whose best SKU (in the price range, carrying the most spec-only words,
        in stock, cheapest) covers at least `need` of the query's words."""
        entries = []
        sku_prices, sku_terms, sku_in_stock = self.sku_prices, self.sku_terms, self.sku_in_stock
        for pos in candidates:
            score = 0.0
            text_hits = 0
            spec_only = []
            for group, posting in zip(groups, postings, strict=True):
                impact = posting.get(pos)
                if impact is None:
                    continue
                if impact < 0:
                    score -= impact
                    spec_only.append(group.terms)
                else:
                    score += impact
                    text_hits += 1
            best: tuple[int, bool, int, int] | None = None
            for s in self.product_skus[pos]:
                if not price.admits(sku_prices[s]):
                    continue
                spec_hits = sum(1 for terms in spec_only if not terms.isdisjoint(sku_terms[s]))
                key = (spec_hits, sku_in_stock[s], -sku_prices[s], -s)
                if best is None or key > best:
                    best = key
            if best is None or text_hits + best[0] < need:
                continue
            entries.append((text_hits + best[0], pos, -best[3], best[1], score))
        return entries

    def _order(self, entries: list[_Entry], price: PriceFilter) -> list[_Entry]:
        if not entries:
            return []
        if price.cheap:
            if price.max_fen is None:
                prices = sorted(self.sku_prices[e[2]] for e in entries)
                median = prices[(len(prices) - 1) // 2]
                entries = [e for e in entries if self.sku_prices[e[2]] <= median]
            return sorted(entries, key=lambda e: (-e[0], not e[3], self.sku_prices[e[2]], self.product_ids[e[1]]))
        return sorted(entries, key=lambda e: (-e[0], not e[3], -e[4], self.product_ids[e[1]]))

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
        entries: list[_Entry] = [(0, pos, -key[2], key[0], 0.0) for pos, key in best.items()]
        return sorted(entries, key=lambda e: (not e[3], self.sku_prices[e[2]], self.product_ids[e[1]]))

    def _hit(self, entry: _Entry) -> SearchHit:
        coverage, pos, s, in_stock, score = entry
        return SearchHit(
            product_id=self.product_ids[pos],
            sku_id=self.sku_ids[s],
            title=self.product_titles[pos],
            spec=self.sku_specs[s],
            price_fen=self.sku_prices[s],
            in_stock=in_stock,
            score=round(score, 4),
            coverage=coverage,
        )

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


class SearchService:
    """Holds the current index. `rebuild()` builds a new one to the side and swaps the reference in one
    assignment, so searches running meanwhile finish on the old one."""

    def __init__(self, index: SearchIndex | None = None) -> None:
        self._index = index
        self._build_lock = threading.Lock()

    @property
    def index(self) -> SearchIndex:
        """The current index, built on first use (once, however many threads ask)."""
        index = self._index
        if index is None:
            with self._build_lock:
                if self._index is None:
                    self._index = SearchIndex.build()
                index = self._index
        return index

    def rebuild(self) -> SearchIndex:
        """Build from the database now (after an import, on an invalidation message) and swap it in."""
        with self._build_lock:
            index = SearchIndex.build()
            self._index = index
            return index

    def search(self, text: str, limit: int = 8, offset: int = 0) -> SearchResult:
        return self.index.search(text, limit=limit, offset=offset)
