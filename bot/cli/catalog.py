"""`wxshop catalog import FILE | export [FILE|-] | search TEXT`: the catalog CSV of DESIGN §4 and a search probe."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.groups import Common, command_group
from bot.process.config import Config

if TYPE_CHECKING:
    from store.search.index import SearchHit, SearchResult

MAX_SHOWN_ERRORS = 50
PROGRESS_FROM_ROWS = 5000


def register(sub: argparse._SubParsersAction, common: Common) -> None:
    """Add the `catalog` command and its actions to the top-level subparsers."""
    action = command_group(sub, common, "catalog", "import, export and search the catalog")
    imp = action("import", "upsert SKUs from a catalog CSV (validated whole first; nothing written on error)", _import)
    imp.add_argument("file", type=Path, metavar="FILE")
    exp = action("export", "write the catalog as CSV (the import format)", _export)
    exp.add_argument("file", nargs="?", default="-", metavar="FILE", help="output file, or - for stdout (default)")
    action("reindex", "tell running servers to rebuild their search index (after editing the search lexicon)", _reindex)
    search = action("search", "search the catalog as a follower would and print the top results", _search)
    search.add_argument("text", metavar="TEXT")
    search.add_argument("--limit", type=int, default=10, metavar="N")
    search.add_argument("--explain", action="store_true", help="show which word matched which term, and why")


def _open(config: Config) -> None:
    from store.core.clock import process_clock
    from store.core.db import open_database
    from store.schema.steps import prepare

    open_database(config.database.url, config.var_dir)
    prepare(process_clock().now())


class _ProgressBar:
    """A bar on stderr, redrawn in place on a terminal and printed every 10 % otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        if total < PROGRESS_FROM_ROWS:
            return
        width = 30
        filled = width * done // total
        line = f"importing [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if self.tty:
            print(f"\r{line}", end="\n" if done == total else "", file=sys.stderr, flush=True)
        elif done * 10 // total > self.last_decile:
            self.last_decile = done * 10 // total
            print(line, file=sys.stderr, flush=True)


def _import(args: argparse.Namespace, config: Config) -> int:
    from store.catalog.csv_format import CatalogFileError
    from store.catalog.csv_import import import_file
    from store.core.db import close_database

    path: Path = args.file
    if not path.is_file():
        print(f"wxshop: cannot read {path}: no such file", file=sys.stderr)
        return 1
    _open(config)
    try:
        defaults = (config.marketing.group_size, config.marketing.group_window_hours)
        report = import_file(path, _ProgressBar(), defaults)
    except CatalogFileError as exc:
        for error in exc.errors[:MAX_SHOWN_ERRORS]:
            print(f"{path}: {error}", file=sys.stderr)
        shown = f" (first {MAX_SHOWN_ERRORS} shown)" if len(exc.errors) > MAX_SHOWN_ERRORS else ""
        print(f"wxshop: {len(exc.errors)} error(s) in {path}{shown}; nothing was imported", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"wxshop: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        close_database()
    from bot.chat.conversation import catalog_channel
    from bot.process.resources import publish

    publish(config, catalog_channel(config.redis.prefix), "import")
    print(report.summary())
    return 0


def _export(args: argparse.Namespace, config: Config) -> int:
    from store.catalog.csv_format import write_catalog
    from store.core.db import close_database

    _open(config)
    try:
        if args.file == "-":
            write_catalog(sys.stdout)
            return 0
        try:
            with open(args.file, "w", encoding="utf-8", newline="") as out:
                count = write_catalog(out)
        except OSError as exc:
            print(f"wxshop: cannot write {args.file}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    finally:
        close_database()
    print(f"exported {count} SKU rows to {args.file}", file=sys.stderr)
    return 0


def _reindex(args: argparse.Namespace, config: Config) -> int:
    from bot.chat.conversation import catalog_channel
    from bot.process.resources import publish
    from store.search.lexicon import LexiconError, load_lexicon

    try:
        load_lexicon(config.shop.search_lexicon_file)
    except LexiconError as exc:
        print(f"wxshop: search lexicon: {exc}", file=sys.stderr)
        return 2
    publish(config, catalog_channel(config.redis.prefix), "reindex")
    print("search index rebuild requested")
    return 0


def _yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def _search(args: argparse.Namespace, config: Config) -> int:
    from store.catalog.products import Product, Sku
    from store.core.db import close_database
    from store.search.index import SearchIndex
    from store.search.lexicon import LexiconError, load_lexicon

    try:
        lexicon = load_lexicon(config.shop.search_lexicon_file)
    except LexiconError as exc:
        print(f"wxshop: search lexicon: {exc}", file=sys.stderr)
        return 2
    _open(config)
    try:
        result = SearchIndex.build(lexicon).search(args.text, limit=max(args.limit, 1))
        shown = result.hits or result.closest
        codes = dict(Sku.select(Sku.id, Sku.code).where(Sku.id.in_([h.sku_id for h in shown])).tuples())
        spus = dict(
            Product.select(Product.id, Product.code).where(Product.id.in_([h.product_id for h in shown])).tuples()
        )
    finally:
        close_database()
    price = result.price
    header = f"词: {' '.join(result.terms) or '-'}"
    if price.active:
        bounds = [
            f"≥ {_yuan(price.min_fen)}" if price.min_fen is not None else "",
            f"≤ {_yuan(price.max_fen)}" if price.max_fen is not None else "",
            "便宜优先" if price.cheap else "",
        ]
        header += f" · 价格 {' '.join(b for b in bounds if b)}"
    if result.unmatched:
        header += f" · 未识别: {' '.join(result.unmatched)}"
    print(header)
    if args.explain:
        _explain_header(result)
    for n, hit in enumerate(result.hits, 1):
        stock = "" if hit.in_stock else " 已售罄"
        print(
            f"{n:>2}. {hit.title}  {_yuan(hit.price_fen)}  {hit.spec or '-'}  [{spus[hit.product_id]} / "
            f"{codes[hit.sku_id]}]  score {hit.score:.2f}{stock}"
        )
        if args.explain:
            print(f"      匹配 {hit.coverage}/{len(result.terms)} 个词: " + _matches(hit))
    if result.hits:
        print(f"共 {result.total} 件商品")
        return 0
    print(
        f"没找到相关商品（找了: {'、'.join(result.looked_for) or '-'}）"
        + (f"，试试这些分类: {'、'.join(s.path for s in result.suggestions)}" if result.suggestions else "")
    )
    for hit in result.closest:
        print(f"  相近: {hit.title}  {_yuan(hit.price_fen)}  [{spus[hit.product_id]} / {codes[hit.sku_id]}]")
    return 0


def _explain_header(result: SearchResult) -> None:
    from store.search.build import WEIGHTS

    print(f"找了: {'、'.join(result.looked_for) or '-'}")
    print(
        "排序: 匹配的商品词多者先（同义词、上位词算商品词；描述、字组只在其后），有货先于售罄，再按得分"
        + ("（便宜优先: 按价格）" if result.price.cheap else "")
    )
    print("字段权重: " + ", ".join(f"{name} {weight:g}" for name, weight in WEIGHTS.items()))


def _matches(hit: SearchHit) -> str:
    return "; ".join(
        f"{m.word}" + ("" if m.via == "词" and m.term == m.word else f" → {m.term} [{m.via}]") + f" +{m.impact:.2f}"
        for m in hit.matches
    )
