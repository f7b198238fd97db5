"""The catalog CSV of DESIGN §4: reading and validating a whole file, and exporting the catalog in the same format.

A file is read completely and every problem is collected (line number, column, what is wrong) before anything
is written; `store.catalog.csv_import` then applies a clean file in one transaction. Prices are parsed with
`Decimal` into fen and commission rates into basis points, so no float ever touches money.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TextIO

from store.bargain.models import BargainOffer
from store.catalog.products import (
    MAX_LEVELS,
    TAG_SEPARATOR,
    Category,
    Product,
    Sku,
    SpecError,
    format_spec,
    parse_spec,
    split_path,
    split_tags,
)
from store.group_buy.models import GroupOffer

COLUMNS = (
    "category",
    "spu",
    "title",
    "sku",
    "spec",
    "price",
    "stock",
    "stock_alert",
    "commission_rate",
    "virtual",
    "image",
    "description",
    "tags",
)
GROUP_OFFER_COLUMNS = ("group_price", "group_size", "group_window_hours", "group_limit")  # 拼团, all optional
GROUP_COLUMNS = GROUP_OFFER_COLUMNS[1:]  # only with a group_price
BARGAIN_COLUMNS = ("bargain_floor", "bargain_helpers", "bargain_window_hours")  # 砍价: all three or none
ALL_COLUMNS = COLUMNS + GROUP_OFFER_COLUMNS + BARGAIN_COLUMNS
REQUIRED = ("category", "spu", "title", "sku", "price", "stock")
PRODUCT_FIELDS = ("category", "title", "description", "tags")
MAX_PRICE_FEN = 10**11
MAX_ERRORS = 1000

_PRICE = re.compile(r"\d{1,12}(\.\d+)?")
_RATE = re.compile(r"\d+(\.\d+)?")
_COUNT = re.compile(r"\d{1,9}")


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        if not self.line:  # the file as a whole
            return self.message
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class CatalogFileError(Exception):
    """The file cannot be imported; `errors` lists every problem found (capped at MAX_ERRORS)."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} error(s) in the catalog file; nothing was written")


@dataclass(frozen=True)
class CatalogRow:
    """One validated line: money in fen, commission in basis points, spec and path normalised."""

    line: int
    category: str
    spu: str
    title: str
    sku: str
    spec: str
    price_fen: int
    stock: int
    stock_alert: int
    commission_bp: int
    virtual: bool
    image: str
    description: str
    tags: str
    group_price_fen: int | None = None  # 拼团: a group offer on this SKU (see store.group_buy)
    group_size: int | None = None  # None: the importer's default ([marketing] group_size)
    group_window_hours: int | None = None
    group_limit: int = 1
    bargain_floor_fen: int | None = None  # 砍价: a bargain offer on this SKU (see store.bargain)
    bargain_helpers: int | None = None
    bargain_window_hours: int | None = None


@dataclass
class _Checker:
    errors: list[RowError] = field(default_factory=list)

    def add(self, line: int, column: str | None, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(line, column, message))


def parse_price(text: str) -> int:
    """'199.00' → 19900 fen. Rejects signs, exponents and more than two decimals."""
    if not _PRICE.fullmatch(text):
        raise ValueError(f"{text!r} is not a price in yuan such as 199.00")
    value = Decimal(text)
    if -value.as_tuple().exponent > 2:
        raise ValueError(f"{text!r} has more than 2 decimals")
    fen = int(value * 100)
    if fen > MAX_PRICE_FEN:
        raise ValueError(f"{text!r} is too large")
    return fen


def format_price(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def parse_rate(text: str) -> int:
    """'0.05' → 500 basis points; a fraction in 0..1 with at most 4 decimals."""
    try:
        if not _RATE.fullmatch(text):
            raise InvalidOperation
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number in 0..1 such as 0.05") from None
    if value > 1:
        raise ValueError(f"{text!r} is not in 0..1")
    if -value.as_tuple().exponent > 4:
        raise ValueError(f"{text!r} has more than 4 decimals")
    return int(value * 10000)


def format_rate(bp: int) -> str:
    return format(Decimal(bp) / 10000, "f") if bp else "0"


def normalise_path(text: str) -> str:
    parts = split_path(text)
    if any(not p for p in parts):
        raise ValueError(f"{text!r} has an empty level")
    if len(parts) > MAX_LEVELS:
        raise ValueError(f"{text!r} has {len(parts)} levels; at most {MAX_LEVELS} (industry/series/spec)")
    return "/".join(parts)


def _records(stream: TextIO) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line each one starts on (a quoted field may span lines)."""
    reader = csv.reader(stream, strict=True)
    start = 1
    for record in reader:
        yield start, record
        start = reader.line_num + 1


def read_catalog(stream: TextIO) -> list[CatalogRow]:
    """Validate a whole file; return its rows or raise `CatalogFileError` with every problem found."""
    check = _Checker()
    try:
        rows = _read(stream, check)
    except UnicodeDecodeError as exc:
        raise CatalogFileError([RowError(0, None, f"the file is not UTF-8 ({exc.reason})")]) from None
    except csv.Error as exc:
        check.add(0, None, f"malformed CSV: {exc}")
        rows = []
    if check.errors:
        raise CatalogFileError(sorted(check.errors, key=lambda e: e.line))
    return rows


def _read(stream: TextIO, check: _Checker) -> list[CatalogRow]:
    records = _records(stream)
    first = next(records, None)
    if first is None:
        check.add(1, None, "the file is empty; expected a header row")
        return []
    header = [h.strip().lstrip("\ufeff") for h in first[1]]
    for name in header:
        if name not in ALL_COLUMNS:
            check.add(1, name, f"unknown column {name!r}; columns are {', '.join(ALL_COLUMNS)}")
    for name in REQUIRED:
        if name not in header:
            check.add(1, name, f"missing required column {name!r}")
    if len(set(header)) != len(header):
        check.add(1, None, "a column appears twice in the header")
    if check.errors:
        return []
    rows: list[CatalogRow] = []
    seen_sku: dict[str, int] = {}
    first_of_spu: dict[str, CatalogRow] = {}
    for line, record in records:
        if not any(v.strip() for v in record):
            continue
        if len(record) != len(header):
            check.add(line, None, f"expected {len(header)} fields, found {len(record)}")
            continue
        fields = dict(zip(header, record, strict=True))
        # Judged on the raw code, before the rest of the line: a first line with other errors still claims its
        # sku, so fixing those errors cannot reveal a duplicate that this run did not report.
        sku = (fields.get("sku") or "").strip()
        duplicate = sku in seen_sku
        if duplicate:
            check.add(line, "sku", f"duplicate sku {sku!r} (first on line {seen_sku[sku]})")
        elif sku:
            seen_sku[sku] = line
        row = _row(line, fields, check)
        if row is None or duplicate:
            continue
        first = first_of_spu.setdefault(row.spu, row)
        for name in PRODUCT_FIELDS:
            if getattr(row, name) != getattr(first, name):
                check.add(line, name, f"differs from line {first.line} for spu {row.spu!r}; an SPU has one {name}")
        rows.append(row)
    return rows


def _row(line: int, raw: dict[str, str], check: _Checker) -> CatalogRow | None:
    value = {k: (raw.get(k) or "").strip() for k in ALL_COLUMNS}
    before = len(check.errors)
    for name in REQUIRED:
        if not value[name]:
            check.add(line, name, "is empty")
    if len(check.errors) > before:
        return None

    def parsed(column: str, parse, default=None):  # type: ignore[no-untyped-def]
        if not value[column] and default is not None:
            return default
        try:
            return parse(value[column])
        except (ValueError, SpecError) as exc:
            check.add(line, column, str(exc))
            return None

    category = parsed("category", normalise_path)
    spec = parsed("spec", lambda t: format_spec(parse_spec(t)), "")
    price = parsed("price", parse_price)
    stock = parsed("stock", _count)
    stock_alert = parsed("stock_alert", _count, 0)
    commission = parsed("commission_rate", parse_rate, 0)
    virtual = parsed("virtual", _flag, "0")
    group_price = parsed("group_price", parse_price) if value["group_price"] else None
    group_size = parsed("group_size", _count) if value["group_size"] else None
    group_window = parsed("group_window_hours", _count) if value["group_window_hours"] else None
    group_limit = parsed("group_limit", _count, 1)
    if group_price == 0:
        check.add(line, "group_price", "must be more than 0")
    if group_size is not None and group_size < 2:
        check.add(line, "group_size", "a group needs at least 2 buyers")
    if group_window == 0:
        check.add(line, "group_window_hours", "must be at least 1")
    if not value["group_price"]:
        for name in GROUP_COLUMNS:
            if value[name]:
                check.add(line, name, "needs a group_price on the same line")
    bargain = _bargain_cells(value, price, line, check)
    for name, limit in (("spu", 64), ("sku", 64), ("title", 255), ("image", 500)):
        if len(value[name]) > limit:
            check.add(line, name, f"longer than {limit} characters")
    tags = TAG_SEPARATOR.join(split_tags(value["tags"]))
    if len(tags) > 500:
        check.add(line, "tags", "longer than 500 characters")
    if len(check.errors) > before:
        return None
    return CatalogRow(
        line=line,
        category=category,
        spu=value["spu"],
        title=value["title"],
        sku=value["sku"],
        spec=spec,
        price_fen=price,
        stock=stock,
        stock_alert=stock_alert,
        commission_bp=commission,
        virtual=virtual == "1",
        image=value["image"],
        description=value["description"],
        tags=tags,
        group_price_fen=group_price,
        group_size=group_size,
        group_window_hours=group_window,
        group_limit=group_limit,
        bargain_floor_fen=bargain[0],
        bargain_helpers=bargain[1],
        bargain_window_hours=bargain[2],
    )


def _bargain_cells(
    value: dict[str, str], price: int | None, line: int, check: _Checker
) -> tuple[int | None, int | None, int | None]:
    """The 砍价 columns: all three filled (a floor leaving at least 1 fen per helper below the price, 1..100
    helpers, 1..720 hours) or all three empty."""
    filled = [name for name in BARGAIN_COLUMNS if value[name]]
    if not filled:
        return None, None, None
    if len(filled) < len(BARGAIN_COLUMNS):
        for name in BARGAIN_COLUMNS:
            if not value[name]:
                check.add(line, name, "the 砍价 columns go together: fill all three or none")
        return None, None, None
    found: list[int | None] = []
    for name, parse in (("bargain_floor", parse_price), ("bargain_helpers", _count), ("bargain_window_hours", _count)):
        try:
            found.append(parse(value[name]))
        except (ValueError, SpecError) as exc:
            check.add(line, name, str(exc))
            found.append(None)
    floor, helpers, hours = found
    if helpers is not None and not 1 <= helpers <= 100:
        check.add(line, "bargain_helpers", "must be 1..100")
    if hours is not None and not 1 <= hours <= 720:
        check.add(line, "bargain_window_hours", "must be 1..720")
    if floor is not None and (floor <= 0 or (price is not None and helpers and price - floor < helpers)):
        check.add(line, "bargain_floor", "must be above 0 and leave at least 1 fen per helper below the price")
    return floor, helpers, hours


def _count(text: str) -> int:
    if text.startswith("-") and _COUNT.fullmatch(text[1:]):
        raise ValueError(f"{text!r} is negative")
    if not _COUNT.fullmatch(text):
        raise ValueError(f"{text!r} is not a whole number >= 0")
    return int(text)


def _flag(text: str) -> str:
    if text not in ("0", "1"):
        raise ValueError(f"{text!r} must be 0 or 1")
    return text


# ---- export -------------------------------------------------------------------------------------------------


def export_rows() -> Iterable[list[str]]:
    """Every SKU in catalog order (the order the import created them), one CSV row each; the 拼团 (砍价) columns
    only when some SKU has an active group (bargain) offer (so a catalog without any exports exactly as it was
    imported)."""
    query = Sku.select(Sku, Product, Category).join(Product).join(Category).order_by(Sku.id)
    offers = {o.sku_id: o for o in GroupOffer.select().where(GroupOffer.active == True)}  # noqa: E712
    bargains = {o.sku_id: o for o in BargainOffer.select().where(BargainOffer.active == True)}  # noqa: E712
    for sku in query.iterator():
        product = sku.product
        row = [
            product.category.path,
            product.code,
            product.title,
            sku.code,
            sku.spec,
            format_price(sku.price_fen),
            str(sku.stock),
            str(sku.stock_alert),
            format_rate(sku.commission_bp),
            "1" if sku.virtual else "0",
            sku.image or product.image,
            product.description,
            product.tags,
        ]
        if offers:
            offer = offers.get(sku.id)
            row += (
                [format_price(offer.price_fen), str(offer.size), str(offer.window_hours),
                 str(offer.limit_per_follower)]
                if offer is not None
                else ["", "", "", ""]
            )  # fmt: skip
        if bargains:
            bargain = bargains.get(sku.id)
            row += (
                [format_price(bargain.floor_fen), str(bargain.helpers), str(bargain.window_hours)]
                if bargain is not None
                else ["", "", ""]
            )
        yield row


def write_catalog(out: TextIO) -> int:
    """Write the whole catalog as CSV; returns the number of SKU rows."""
    writer = csv.writer(out, lineterminator="\n")
    with_groups = GroupOffer.select().where(GroupOffer.active == True).exists()  # noqa: E712
    with_bargains = BargainOffer.select().where(BargainOffer.active == True).exists()  # noqa: E712
    header = COLUMNS + (GROUP_OFFER_COLUMNS if with_groups else ()) + (BARGAIN_COLUMNS if with_bargains else ())
    writer.writerow(header)
    count = 0
    for row in export_rows():
        writer.writerow(row)
        count += 1
    return count


def export_text() -> str:
    buffer = io.StringIO()
    write_catalog(buffer)
    return buffer.getvalue()
