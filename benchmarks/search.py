"""Catalog import and product search at 100,000 SKUs (DESIGN §7: p99 ≤ 20 ms per query).

    python -m benchmarks.search [--quick] [--skus N] [--database-url URL]

Generates a deterministic Chinese catalog (three-level categories; titles with brands, materials, styles;
colour/size/capacity specs; gift and audience tags), imports it through the CSV importer, builds the search
index, then times realistic queries. The naive baseline — SQL `LIKE '%word%'` over titles, one condition per
query word, with the same price filter — runs on the same database in the same run; the ratio is what to compare
across machines. The database is a fresh SQLite file under $WXSHOP_VAR_DIR (default ./var) unless a URL is given.
"""

from __future__ import annotations

import argparse
import csv
import gc
import random
import sqlite3
import sys
import time
import tracemalloc

from benchmarks.common import percentile, print_figures, print_machine_info
from benchmarks.databases import fresh_sqlite_url, var_dir
from benchmarks.search_catalog import generate
from store.catalog.csv_import import import_file
from store.catalog.products import Product, Sku
from store.core.db import close_database, open_database
from store.schema.steps import upgrade
from store.search.index import SearchIndex
from store.search.text import SEGMENTER, normalise, parse_price, query_tokens

QUERIES = [
    "200以内的红色连衣裙",
    "iphone 256g",
    "送妈妈的礼物",
    "100到300的T恤",
    "便宜点的耳机",
    "华为手机 512g",
    "纯棉四件套",
    "男士运动鞋 42码",
    "儿童羽绒服",
    "降噪蓝牙耳机",
    "300以上的口红",
    "红茶礼盒",
    "保温杯 500ml",
    "两百以内的双肩包",
    "小米充电宝",
    "夏季碎花连衣裙",
    "黑色卫衣 男 xl",
    "送女友的礼物 500以内",
    "真皮钱包",
    "无人机",
    "婴儿纸尿裤",
    "1000到3000的手机",
]


def _database_url(given: str | None) -> str:
    if given:
        return given
    return fresh_sqlite_url("search")


def _progress_bar(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    print(f"\r  import [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=sys.stderr)
    if done == total:
        print(file=sys.stderr)


def _naive(text: str) -> int:
    """The baseline: LIKE over titles (one per word) and the price filter, in SQL."""
    price, rest = parse_price(normalise(text))
    query = Product.select(Product.id).join(Sku).distinct()
    for token in query_tokens(rest):
        query = query.where(Product.title.contains(token))
    if price.min_fen is not None:
        query = query.where(Sku.price_fen >= price.min_fen)
    if price.max_fen is not None:
        query = query.where(Sku.price_fen <= price.max_fen)
    return len(list(query.tuples()))


def _time(fn, arg, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn(arg)
        samples.append((time.perf_counter() - started) * 1000)
    return sorted(samples)


def run(skus: int, repeat: int, baseline_repeat: int, database_url: str | None) -> dict[str, float]:
    label = f"{skus // 1000}k" if skus >= 1000 else str(skus)
    var = var_dir()
    var.mkdir(parents=True, exist_ok=True)
    csv_path = var / f"bench-catalog-{label}.csv"
    started = time.perf_counter()
    with csv_path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        rows = generate(random.Random(20261124), skus, writer)
    print(f"generated {rows} SKU rows in {time.perf_counter() - started:.2f} s")

    open_database(_database_url(database_url), var)
    try:
        upgrade()
        report = import_file(csv_path, _progress_bar if sys.stderr.isatty() else None)
        rows_per_s = report.rows / report.seconds
        print(f"{report.summary()} ({rows_per_s:,.0f} rows/s, reading and validating included)")

        started = time.perf_counter()
        SEGMENTER.cut("预热")
        jieba_s = time.perf_counter() - started
        gc.collect()
        started = time.perf_counter()
        index = SearchIndex.build()
        build_s = time.perf_counter() - started
        del index
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        index = SearchIndex.build()
        index_mb = (tracemalloc.get_traced_memory()[0] - before) / 2**20
        tracemalloc.stop()
        products, sku_count, terms = index.size
        print(
            f"index: {products} products, {sku_count} SKUs, {terms} terms; built in {build_s:.2f} s "
            f"(jieba dictionary load {jieba_s:.2f} s before it), {index_mb:.1f} MiB (tracemalloc)"
        )

        for q in QUERIES:
            index.search(q)
        gc.collect()
        print(f"\n{'query':<26} {'hits':>6} {'p50 ms':>8} {'p99 ms':>8}   top result")
        everything: list[float] = []
        for q in QUERIES:
            samples = _time(index.search, q, repeat)
            everything.extend(samples)
            result = index.search(q, limit=1)
            top = result.hits[0].title if result.hits else "没找到 → " + " ".join(s.path for s in result.suggestions)
            print(f"{q:<26} {result.total:>6} {percentile(samples, 50):>8.3f} {percentile(samples, 99):>8.3f}   {top}")
        everything.sort()
        baseline: list[float] = []
        for q in QUERIES:
            baseline.extend(_time(_naive, q, baseline_repeat))
        baseline.sort()
    finally:
        close_database()
    p50, p99 = percentile(everything, 50), percentile(everything, 99)
    base_p50 = percentile(baseline, 50)
    print(
        f"\nsearch: p50 {p50:.3f} ms, p99 {p99:.3f} ms over {len(everything)} queries; "
        f"naive LIKE baseline p50 {base_p50:.3f} ms over {len(baseline)} → {base_p50 / p50:.0f}x faster"
    )
    return {
        f"search_{label}_p50_ms": p50,
        f"search_{label}_p99_ms": p99,
        f"search_{label}_baseline_like_p50_ms": base_p50,
        f"search_{label}_speedup_vs_like": base_p50 / p50,
        f"search_{label}_index_build_s": build_s,
        f"search_{label}_index_mib": index_mb,
        "catalog_import_rows_per_s": rows_per_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~2,000 SKUs, a few seconds (smoke test)")
    parser.add_argument("--skus", type=int, help="catalog size (default 100,000)")
    parser.add_argument("--database-url", help="benchmark on this database instead of a fresh SQLite file")
    args = parser.parse_args(argv)
    skus = args.skus or (2000 if args.quick else 100_000)
    print_machine_info()
    print(f"# sqlite: {sqlite3.sqlite_version}")
    figures = run(
        skus, repeat=20 if args.quick else 100, baseline_repeat=2 if args.quick else 3, database_url=args.database_url
    )
    print_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
