"""The catalog CSV (DESIGN §4): import as an upsert, validation that writes nothing, exact export, the CLI."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.search_catalog import generate
from bot.process.config import Config
from store.catalog.csv_format import (
    COLUMNS,
    CatalogFileError,
    export_text,
    format_price,
    format_rate,
    parse_price,
    parse_rate,
    read_catalog,
)
from store.catalog.csv_import import import_file
from store.catalog.inventory import take_stock
from store.catalog.products import Category, Product, Sku
from store.core.clock import ManualClock
from store.core.db import close_database, open_database
from tests.support import wxshop

CATALOG = Path(__file__).parent / "data" / "catalog.csv"
ORIGINAL = CATALOG.read_text(encoding="utf-8")
Rows = list[list[str]]


def rows_of(text: str) -> Rows:
    return list(csv.reader(io.StringIO(text)))


def text_of(rows: Rows) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def counts() -> tuple[int, int, int]:
    return Category.select().count(), Product.select().count(), Sku.select().count()


def column(name: str) -> int:
    return COLUMNS.index(name)


@pytest.fixture
def db(migrated: Config) -> Config:
    open_database(migrated.database.url, migrated.var_dir)
    return migrated


def write(tmp_path: Path, text: str, name: str = "catalog.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_import_reads_every_field_exactly(db: Config) -> None:
    report = import_file(CATALOG)
    assert (report.rows, report.skus_created, report.skus_updated) == (111, 111, 0)
    assert (report.products_created, report.products_updated, report.categories_created) == (60, 0, 51)
    assert counts() == (51, 60, 111)
    sku = Sku.get(Sku.code == "P036-01")
    assert (sku.price_fen, sku.stock, sku.stock_alert, sku.commission_bp) == (1990, 200, 20, 300)
    assert sku.spec == "长度:1米" and sku.image == "https://img.example.com/p036-1.jpg" and sku.stock_alert_armed
    product = sku.product
    assert product.title == "绿联 Type-C 数据线 快充" and product.category.path == "数码/配件/数据线"
    assert product.tag_list == ["快充", "配件"] and product.image == sku.image and product.on_sale
    assert Sku.get(Sku.code == "P057-01").virtual and Sku.get(Sku.code == "P057-01").price_fen == 4950
    gift_box = Product.get(Product.code == "P054")
    assert gift_box.category.path == "礼品/节日礼盒" and gift_box.category.level == 2


def test_reimport_is_an_upsert_by_sku(db: Config, tmp_path: Path) -> None:
    import_file(CATALOG)
    Product.update(on_sale=False).where(Product.code == "P002").execute()
    rows = rows_of(ORIGINAL)
    rows[1][column("price")] = "149.50"  # P001-01 gets cheaper
    rows[1][column("stock")] = "3"
    new = list(rows[2])
    new[column("sku")], new[column("spec")] = "P001-99", "颜色:白色;尺码:XL"
    rows.append(new)
    report = import_file(write(tmp_path, text_of(rows)))
    assert (report.skus_created, report.skus_updated, report.products_created, report.categories_created) == (
        1,
        111,
        0,
        0,
    )
    assert counts() == (51, 60, 112)
    changed = Sku.get(Sku.code == "P001-01")
    assert (changed.price_fen, changed.stock, changed.stock_alert_armed) == (14950, 3, False)
    assert Sku.get(Sku.code == "P001-99").product.code == "P001"
    assert not Product.get(Product.code == "P002").on_sale  # the operator's choice survives a re-import


def test_a_sku_can_move_to_another_spu_and_titles_update(db: Config, tmp_path: Path) -> None:
    import_file(CATALOG)
    rows = rows_of(ORIGINAL)
    for row in rows[1:]:
        if row[column("spu")] == "P003":
            row[column("title")] = "纯棉条纹衬衫裙 新版"
    rows[1][column("spu")] = "P777"
    import_file(write(tmp_path, text_of(rows)))
    assert Sku.get(Sku.code == "P001-01").product.code == "P777"
    assert Product.get(Product.code == "P003").title == "纯棉条纹衬衫裙 新版"


def edit_cell(line: int, name: str, value: str) -> Callable[[Rows], None]:
    def edit(rows: Rows) -> None:
        rows[line - 1][column(name)] = value

    return edit


def rename_column(old: str, new: str) -> Callable[[Rows], None]:
    def edit(rows: Rows) -> None:
        rows[0][column(old)] = new

    return edit


def drop_column(name: str) -> Callable[[Rows], None]:
    def edit(rows: Rows) -> None:
        index = column(name)
        for row in rows:
            del row[index]

    return edit


def duplicate_line(line: int) -> Callable[[Rows], None]:
    def edit(rows: Rows) -> None:
        rows.append(list(rows[line - 1]))

    return edit


def cut_field(line: int) -> Callable[[Rows], None]:
    def edit(rows: Rows) -> None:
        rows[line - 1].pop()

    return edit


INVALID = [
    (
        "price with 3 decimals",
        edit_cell(5, "price", "19.999"),
        "line 5, column price: '19.999' has more than 2 decimals",
    ),
    ("price not a number", edit_cell(6, "price", "十九元"), "line 6, column price"),
    ("negative price", edit_cell(6, "price", "-1.00"), "line 6, column price"),
    ("empty price", edit_cell(7, "price", ""), "line 7, column price: is empty"),
    ("negative stock", edit_cell(3, "stock", "-3"), "line 3, column stock: '-3' is negative"),
    ("fractional stock", edit_cell(3, "stock", "2.5"), "line 3, column stock"),
    ("negative alert", edit_cell(3, "stock_alert", "-1"), "line 3, column stock_alert"),
    ("unknown column", rename_column("image", "picture"), "line 1, column picture: unknown column 'picture'"),
    ("missing required column", drop_column("sku"), "line 1, column sku: missing required column 'sku'"),
    ("duplicate sku", duplicate_line(9), "line 113, column sku: duplicate sku 'P003-02' (first on line 9)"),
    ("four-level category", edit_cell(4, "category", "服饰/女装/连衣裙/长款"), "line 4, column category"),
    ("empty category level", edit_cell(4, "category", "服饰//连衣裙"), "has an empty level"),
    ("spec without colon", edit_cell(8, "spec", "颜色红色"), "line 8, column spec: '颜色红色' is not key:value"),
    (
        "spec key twice",
        edit_cell(8, "spec", "颜色:红色;颜色:蓝色"),
        "line 8, column spec: attribute '颜色' given twice",
    ),
    ("virtual not 0/1", edit_cell(10, "virtual", "yes"), "line 10, column virtual: 'yes' must be 0 or 1"),
    ("commission above 1", edit_cell(11, "commission_rate", "1.5"), "line 11, column commission_rate: '1.5' is not"),
    ("commission negative", edit_cell(11, "commission_rate", "-0.1"), "line 11, column commission_rate"),
    ("SPU with two titles", edit_cell(3, "title", "另一个标题"), "line 3, column title: differs from line 2"),
    ("short row", cut_field(12), "line 12: expected 13 fields, found 12"),
]


@pytest.mark.parametrize(("case", "edit", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_file_is_reported_by_line_and_column_and_writes_nothing(
    db: Config, tmp_path: Path, case: str, edit: Callable[[Rows], None], message: str
) -> None:
    import_file(CATALOG)
    before, prices = counts(), dict(Sku.select(Sku.code, Sku.price_fen).tuples())
    rows = rows_of(ORIGINAL)
    rows[1][column("price")] = "1.00"  # a valid change that must not be applied either
    edit(rows)
    with pytest.raises(CatalogFileError) as failure:
        import_file(write(tmp_path, text_of(rows)))
    assert any(message in str(e) for e in failure.value.errors), [str(e) for e in failure.value.errors]
    assert counts() == before and dict(Sku.select(Sku.code, Sku.price_fen).tuples()) == prices


def test_every_error_in_a_file_is_collected_in_line_order(db: Config, tmp_path: Path) -> None:
    rows = rows_of(ORIGINAL)
    for edit in (edit_cell(40, "price", "abc"), edit_cell(7, "stock", "-2"), edit_cell(20, "virtual", "2")):
        edit(rows)
    with pytest.raises(CatalogFileError) as failure:
        import_file(write(tmp_path, text_of(rows)))
    assert [(e.line, e.column) for e in failure.value.errors] == [(7, "stock"), (20, "virtual"), (40, "price")]
    assert counts() == (0, 0, 0)


def test_a_duplicate_sku_is_reported_even_when_its_first_line_has_other_errors(db: Config, tmp_path: Path) -> None:
    rows = rows_of(ORIGINAL)
    edit_cell(9, "price", "abc")(rows)
    rows.append(list(rows[8]))
    rows[-1][column("price")] = "10.00"
    with pytest.raises(CatalogFileError) as failure:
        import_file(write(tmp_path, text_of(rows)))
    sku = rows[8][column("sku")]
    assert [str(e) for e in failure.value.errors] == [
        "line 9, column price: 'abc' is not a price in yuan such as 199.00",
        f"line {len(rows)}, column sku: duplicate sku {sku!r} (first on line 9)",
    ]


def test_a_file_that_is_not_utf8_is_refused(db: Config, tmp_path: Path) -> None:
    with pytest.raises(CatalogFileError) as failure:
        import_file(write(tmp_path, ORIGINAL, encoding="gbk"))
    assert [str(e) for e in failure.value.errors] == ["the file is not UTF-8 (invalid start byte)"]
    assert counts() == (0, 0, 0)


def test_excel_bom_quoted_fields_and_blank_lines_are_accepted(db: Config, tmp_path: Path) -> None:
    rows = rows_of(ORIGINAL)[:3]
    for row in rows[1:]:
        row[column("description")] = '第一行\n第二行，带逗号, "引号"'
    text = "\ufeff" + text_of(rows) + "\n"
    report = import_file(write(tmp_path, text))
    assert report.rows == 2
    assert Product.get(Product.code == "P001").description == '第一行\n第二行，带逗号, "引号"'


def test_export_is_the_imported_file_exactly(db: Config, tmp_path: Path) -> None:
    import_file(CATALOG)
    assert export_text() == ORIGINAL
    take_stock(Sku.get(Sku.code == "P001-01").id, 2, ManualClock().now())
    exported = export_text()
    assert exported != ORIGINAL and "P001-01,颜色:红色;尺码:S,159.00,28," in exported
    report = import_file(write(tmp_path, exported))
    assert report.skus_created == 0 and export_text() == exported


def test_money_and_rates_never_go_through_float() -> None:
    assert parse_price("199") == 19900 and parse_price("199.9") == 19990 and parse_price("0.07") == 7
    assert parse_price("1234567.89") == 123456789
    for bad in ("1e3", "-1", "1.234", "", " 1", "1,000", "¥5", "0.1.2", "nan"):
        with pytest.raises(ValueError):
            parse_price(bad)
    assert [format_price(f) for f in (0, 7, 19990, 123456789)] == ["0.00", "0.07", "199.90", "1234567.89"]
    assert parse_rate("0.05") == 500 and parse_rate("1") == 10000 and parse_rate("0.0001") == 1
    for bad in ("1.0001", "0.00001", "-0.1", "5%", "abc"):
        with pytest.raises(ValueError):
            parse_rate(bad)
    assert [format_rate(b) for b in (0, 500, 1000, 10000, 1)] == ["0", "0.05", "0.1", "1", "0.0001"]


def test_only_required_columns_are_needed(db: Config) -> None:
    text = "sku,spu,title,category,price,stock\nA-1,A,简单商品,杂货,9.90,5\n"
    rows = read_catalog(io.StringIO(text))
    assert rows[0].stock_alert == 0 and rows[0].commission_bp == 0 and not rows[0].virtual and rows[0].spec == ""


# ---- the command line ----------------------------------------------------------------------------------------


def test_cli_import_export_and_search(migrated: Config, env: dict[str, str], tmp_path: Path) -> None:
    imported = wxshop("catalog", "import", str(CATALOG), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "imported 111 rows: 111 new and 0 updated SKUs" in imported.stdout
    exported = wxshop("catalog", "export", env=env)
    assert exported.returncode == 0 and exported.stdout == ORIGINAL
    to_file = wxshop("catalog", "export", str(tmp_path / "out.csv"), env=env)
    assert to_file.returncode == 0 and (tmp_path / "out.csv").read_text(encoding="utf-8") == ORIGINAL
    found = wxshop("catalog", "search", "200以内的红色连衣裙", env=env)
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert lines[0] == "词: 红色 连衣裙 · 价格 ≤ ¥200.00"
    assert lines[1].startswith(" 1. 法式碎花雪纺连衣裙 夏季新款  ¥159.00  颜色:红色;尺码:S  [P001 / P001-01]")
    assert "已售罄" in lines[2] and lines[-1] == "共 4 件商品"  # both red dresses, then one-word matches
    nothing = wxshop("catalog", "search", "无人机", env=env)
    assert nothing.returncode == 0 and "没找到相关商品（找了: 无人机），试试这些分类: 数码/" in nothing.stdout


def test_cli_reports_every_bad_line_and_writes_nothing(migrated: Config, env: dict[str, str], tmp_path: Path) -> None:
    rows = rows_of(ORIGINAL)
    for line in range(2, 80):
        rows[line - 1][column("price")] = "1.999"
    bad = write(tmp_path, text_of(rows), "bad.csv")
    result = wxshop("catalog", "import", str(bad), env=env)
    assert result.returncode == 2 and result.stdout == ""
    errors = result.stderr.splitlines()
    assert errors[0] == f"{bad}: line 2, column price: '1.999' has more than 2 decimals"
    assert len(errors) == 51
    assert errors[-1] == f"wxshop: 78 error(s) in {bad} (first 50 shown); nothing was imported"
    assert wxshop("catalog", "export", env=env).stdout == ",".join(COLUMNS) + "\n"


def test_cli_missing_file_is_one_line(migrated: Config, env: dict[str, str], tmp_path: Path) -> None:
    result = wxshop("catalog", "import", str(tmp_path / "nope.csv"), env=env)
    assert result.returncode == 1 and result.stderr.strip().count("\n") == 0
    assert "cannot read" in result.stderr and "no such file" in result.stderr


def test_cli_shows_progress_for_a_large_file(migrated: Config, env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        generate(random.Random(7), 6000, csv.writer(out, lineterminator="\n"))
    result = wxshop("catalog", "import", str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert "importing [" in result.stderr and "6000/6000" in result.stderr
    open_database(migrated.database.url, migrated.var_dir)
    try:
        assert Sku.select().count() == 6000
    finally:
        close_database()
