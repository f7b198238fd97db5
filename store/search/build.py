"""Building a `SearchIndex` from catalog rows: user dictionary, per-product field-weighted terms, BM25F impacts.

Kept apart from the query code because it runs rarely (start-up, after an import) and holds the bulk of the
indexing decisions; see `store.search.index` for how the numbers it computes are used.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from store.catalog.products import parse_spec, split_tags
from store.search.lexicon import Lexicon
from store.search.text import SEGMENTER, bigrams, canonical, document_terms, normalise, pinyin_of

if TYPE_CHECKING:
    from store.search.index import CategoryRow, ProductRow, SearchIndex, SkuRow

# Field weights (BM25F): a word in the title counts most, then tags and the leaf category, then spec values;
# the description and character pairs are looked at only for a query word that matches no product word.
WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"title": 3.0, "tag": 2.0, "leaf": 2.0, "parent": 1.0, "spec": 1.5, "description": 0.5, "bigram": 0.5}
)
# Terms from the description, character pairs and pinyin live in their own namespaces, so a query word matched
# only there is known as such (for ranking, for `--explain`, and to tell a product search from chat).
SAMPLES = 3
DESCRIPTION = "§"
BIGRAM = "~"
PINYIN = "@"
K1 = 1.2  # term-frequency saturation
B = 0.4  # length normalisation: gentle, titles are short and similar in length

_TITLE_CHUNK = re.compile(r"[\s/|,，、()（）【】\[\]+·]+")
_CJK_WORD = re.compile(r"[\u4e00-\u9fff]{2,4}")


def _terms_of_phrase(text: str) -> set[str]:
    """A name, tag or spec value as a whole term plus its finer words."""
    whole = canonical(normalise(text).replace(" ", ""))
    return {whole, *document_terms(text)} if whole else set(document_terms(text))


def _dictionary_words(categories: list[CategoryRow], products: list[ProductRow], spec_values: set[str]) -> set[str]:
    """Words jieba should keep whole: category names, tags, spec values, and title words shared by products
    (brands, product types) — a chunk of 2–4 Chinese characters between spaces in at least two titles."""
    words = {normalise(name) for _, _, name, _ in categories}
    words.update(normalise(v) for v in spec_values)
    chunks: Counter[str] = Counter()
    for _, title, _, tags, _ in products:
        words.update(normalise(t) for t in split_tags(tags))
        chunks.update({c for c in _TITLE_CHUNK.split(normalise(title)) if _CJK_WORD.fullmatch(c)})
    words.update(c for c, n in chunks.items() if n >= 2)
    return {w for w in words if not w.isascii() and " " not in w}


def _add(tf: dict[str, float], term: str, weight: float) -> None:
    tf[term] = tf.get(term, 0.0) + weight


def _add_pinyin(tf: dict[str, float], terms: set[str] | list[str], weight: float, cache: dict[str, str]) -> None:
    for term in terms:
        spelled = cache.get(term)
        if spelled is None:
            spelled = cache[term] = pinyin_of(term)
        if spelled:
            _add(tf, PINYIN + spelled, weight)


def _samples(
    categories: list[CategoryRow], product_category: list[int], in_stock: list[bool]
) -> Mapping[int, tuple[int, ...]]:
    """A few product positions per category (its subtree), in stock first: what a miss can offer instead."""
    parent = {c[0]: c[1] for c in categories}
    samples: dict[int, list[int]] = {}
    for wanted in (True, False):
        for pos, category_id in enumerate(product_category):
            if in_stock[pos] != wanted:
                continue
            node: int | None = category_id
            while node is not None:
                found = samples.setdefault(node, [])
                if len(found) < SAMPLES:
                    found.append(pos)
                node = parent.get(node)
    return MappingProxyType({c: tuple(p) for c, p in samples.items()})


def build_index(
    cls: type[SearchIndex],
    categories: list[CategoryRow],
    products: list[ProductRow],
    skus: list[SkuRow],
    lexicon: Lexicon,
) -> SearchIndex:
    spec_values: dict[str, list[str]] = {}
    for _, _, spec, _, _ in skus:
        if spec not in spec_values:
            spec_values[spec] = list(parse_spec(spec).values())
    words = _dictionary_words(categories, products, {v for vs in spec_values.values() for v in vs})
    words.update(w for w in (*lexicon.synonyms, *lexicon.hypernyms) if not w.isascii())  # "潮鞋" stays whole
    SEGMENTER.add_words(words)

    by_id = {c[0]: c for c in categories}
    category_terms = {c[0]: _terms_of_phrase(c[2]) for c in categories}
    value_terms: dict[str, set[str]] = {}
    spec_terms: dict[str, frozenset[str]] = {}
    for spec, values in spec_values.items():
        terms: set[str] = set()
        for value in values:
            if value not in value_terms:
                value_terms[value] = _terms_of_phrase(value)
            terms |= value_terms[value]
        spec_terms[spec] = frozenset(terms)

    skus_of: dict[int, list[SkuRow]] = {}
    for row in skus:
        skus_of.setdefault(row[1], []).append(row)

    product_ids: list[int] = []
    titles: list[str] = []
    product_skus: list[tuple[int, ...]] = []
    tfs: list[dict[str, float]] = []
    lengths: list[int] = []
    sku_ids: list[int] = []
    sku_product: list[int] = []
    sku_specs: list[str] = []
    sku_prices: list[int] = []
    sku_in_stock: list[bool] = []
    sku_term_sets: list[frozenset[str]] = []
    spec_only: list[set[str]] = []
    df: Counter[str] = Counter()

    spelled: dict[str, str] = {}
    category_pairs = {c[0]: bigrams(normalise(c[2])) for c in categories}
    product_category: list[int] = []
    for product_id, title, category_id, tags, description in sorted(products):
        rows = skus_of.get(product_id)
        if not rows:
            continue
        pos = len(product_ids)
        tf: dict[str, float] = {}
        title_terms = document_terms(title)
        for term in title_terms:
            _add(tf, term, WEIGHTS["title"])
        _add_pinyin(tf, title_terms, WEIGHTS["title"], spelled)
        for pair in bigrams(normalise(title)):
            _add(tf, BIGRAM + pair, WEIGHTS["bigram"])
        tag_count = 0
        for tag in split_tags(tags):
            tag_terms = _terms_of_phrase(tag)
            for term in tag_terms:
                _add(tf, term, WEIGHTS["tag"])
                tag_count += 1
            _add_pinyin(tf, tag_terms, WEIGHTS["tag"], spelled)
        node, weight = by_id.get(category_id), WEIGHTS["leaf"]
        while node is not None:
            for term in category_terms[node[0]]:
                _add(tf, term, weight)
            _add_pinyin(tf, category_terms[node[0]], weight, spelled)
            if node[0] == category_id:
                for pair in category_pairs[node[0]]:
                    _add(tf, BIGRAM + pair, WEIGHTS["bigram"])
            node, weight = by_id.get(node[1]) if node[1] is not None else None, WEIGHTS["parent"]
        if description:
            for term in set(document_terms(description)):
                _add(tf, DESCRIPTION + term, WEIGHTS["description"])
        text_terms = set(tf)
        positions = []
        spec_union: set[str] = set()
        for sku_id, _, spec, price, stock in rows:
            positions.append(len(sku_ids))
            sku_ids.append(sku_id)
            sku_product.append(pos)
            sku_specs.append(spec)
            sku_prices.append(price)
            sku_in_stock.append(stock > 0)
            sku_term_sets.append(spec_terms[spec])
            spec_union |= spec_terms[spec]
        for term in spec_union:
            tf[term] = tf.get(term, 0.0) + WEIGHTS["spec"]
        product_ids.append(product_id)
        product_category.append(category_id)
        titles.append(title)
        product_skus.append(tuple(positions))
        tfs.append(tf)
        lengths.append(len(title_terms) + tag_count)
        spec_only.append(spec_union - text_terms)
        df.update(tf.keys())

    count = len(product_ids)
    average = (sum(lengths) / count) if count else 1.0
    idf = {t: math.log(1 + (count - n + 0.5) / (n + 0.5)) for t, n in df.items()}
    postings: dict[str, dict[int, float]] = {t: {} for t in df}
    shared: dict[float, float] = {}  # one float object per distinct (rounded) impact: most repeat
    for pos, (tf, length) in enumerate(zip(tfs, lengths, strict=True)):
        norm = K1 * (1 - B + B * length / average) if average else K1
        only_in_specs = spec_only[pos]
        for term, weight in tf.items():
            impact = round(idf[term] * weight * (K1 + 1) / (weight + norm), 4)
            if term in only_in_specs:
                impact = -impact
            postings[term][pos] = shared.setdefault(impact, impact)

    names = {c[0]: canonical(normalise(c[2]).replace(" ", "")) for c in categories}
    by_char: dict[str, set[str]] = {}
    for name in names.values():
        if name in postings:
            for char in set(name):
                by_char.setdefault(char, set()).add(name)
    order = sorted(range(len(sku_prices)), key=lambda s: (sku_prices[s], s))
    return cls(
        postings=MappingProxyType(postings),
        product_ids=tuple(product_ids),
        product_titles=tuple(titles),
        product_skus=tuple(product_skus),
        sku_ids=tuple(sku_ids),
        sku_product=tuple(sku_product),
        sku_specs=tuple(sku_specs),
        sku_prices=tuple(sku_prices),
        sku_in_stock=tuple(sku_in_stock),
        sku_terms=tuple(sku_term_sets),
        prices_sorted=tuple(sku_prices[s] for s in order),
        prices_sku=tuple(order),
        categories=tuple((c[0], c[3], names[c[0]], c[3].count("/") + 1) for c in sorted(categories)),
        category_words=MappingProxyType({k: frozenset(v) for k, v in by_char.items()}),
        product_min_price=tuple(min(sku_prices[s] for s in p) for p in product_skus),
        product_max_price=tuple(max(sku_prices[s] for s in p) for p in product_skus),
        category_samples=_samples(
            categories, product_category, [any(sku_in_stock[s] for s in p) for p in product_skus]
        ),
        lexicon=lexicon,
    )
