"""`wxshop orders ship ORDER_NO CARRIER NUMBER | ship-csv FILE`: shipping from the command line.

The CSV (UTF-8, header row) has the columns `order_no,carrier,tracking_no`; every row is checked first and the
file ships whole or not at all, each problem printed with its line. The worker's minute sweep subscribes the
parcels with the tracking provider (`subscribe_parcels`), so this needs only the database.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from bot.cli.groups import Common, command_group
from bot.process.config import Config

COLUMNS = ("order_no", "carrier", "tracking_no")
MAX_SHOWN_ERRORS = 50


def register(sub: argparse._SubParsersAction, common: Common) -> None:
    action = command_group(sub, common, "orders", "ship orders")
    ship = action("ship", "ship a paid order with a carrier code (yuantong, shunfeng…) and tracking number", _ship)
    ship.add_argument("order_no", metavar="ORDER_NO")
    ship.add_argument("carrier", metavar="CARRIER")
    ship.add_argument("number", metavar="NUMBER")
    bulk = action("ship-csv", "ship every order of a CSV (order_no,carrier,tracking_no); all or nothing", _ship_csv)
    bulk.add_argument("file", type=Path, metavar="FILE")


def _open(config: Config) -> None:
    from store.core.clock import process_clock
    from store.core.db import open_database
    from store.schema.steps import prepare

    open_database(config.database.url, config.var_dir)
    prepare(process_clock().now())


def _ship(args: argparse.Namespace, config: Config) -> int:
    from store.core.clock import process_clock
    from store.core.db import close_database
    from store.logistics.shipments import ShippingError, ship_order

    _open(config)
    try:
        shipped = ship_order(args.order_no, args.carrier, args.number, process_clock().now())
    except ShippingError as exc:
        print(f"wxshop: {exc}", file=sys.stderr)
        return 1
    finally:
        close_database()
    parcel = shipped.shipment
    what = "shipped" if shipped.created else "already shipped"
    print(f"{what}: {parcel.order_no} {parcel.carrier_name} {parcel.tracking_no}")
    return 0


def read_rows(path: Path) -> list:  # -> list[ShipRow]; raises ShipmentRowsInvalid for a malformed file
    from store.logistics.shipments import ShipmentRowsInvalid, ShipRow

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ShipmentRowsInvalid([f"cannot read {path}: {exc}"]) from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ShipmentRowsInvalid([f"line 1: missing column(s) {', '.join(missing)} (need {','.join(COLUMNS)})"])
    rows = []
    for line, record in enumerate(reader, start=2):
        values = {c: (record.get(c) or "").strip() for c in COLUMNS}
        if not any(values.values()):
            continue
        rows.append(ShipRow(line, values["order_no"], values["carrier"], values["tracking_no"]))
    return rows


def _ship_csv(args: argparse.Namespace, config: Config) -> int:
    from store.core.clock import process_clock
    from store.core.db import close_database
    from store.logistics.shipments import ShipmentRowsInvalid, ship_many

    path: Path = args.file
    if not path.is_file():
        print(f"wxshop: cannot read {path}: no such file", file=sys.stderr)
        return 1
    _open(config)
    try:
        results = ship_many(read_rows(path), process_clock().now())
    except ShipmentRowsInvalid as exc:
        for problem in exc.problems[:MAX_SHOWN_ERRORS]:
            print(f"{path}: {problem}", file=sys.stderr)
        shown = f" (first {MAX_SHOWN_ERRORS} shown)" if len(exc.problems) > MAX_SHOWN_ERRORS else ""
        print(f"wxshop: {len(exc.problems)} problem(s) in {path}{shown}; nothing was shipped", file=sys.stderr)
        return 2
    finally:
        close_database()
    created = sum(r.created for r in results)
    print(f"shipped {created} order(s), {len(results) - created} already shipped")
    return 0
