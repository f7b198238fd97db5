"""`wxshop commission report --from YYYY-MM-DD --to YYYY-MM-DD`: the settlement CSV of a period (the admin API's
`format=csv`), one line per promoter, for paying them out."""

from __future__ import annotations

import argparse

from bot.cli.groups import Common, command_group
from bot.process.config import Config


def register(sub: argparse._SubParsersAction, common: Common) -> None:
    action = command_group(sub, common, "commission", "分销: the promoters' commissions")
    report = action("report", "the settlement CSV of orders paid from one day to another (both included)", _report)
    report.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD", help="first day")
    report.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD", help="last day")


def _report(args: argparse.Namespace, config: Config) -> int:
    from store.commission.reports import PeriodInvalid, period, settlement, settlement_csv
    from store.core.clock import process_clock
    from store.core.db import close_database, open_database
    from store.schema.steps import prepare

    try:
        start, end = period(args.start, args.end)
    except PeriodInvalid as exc:
        raise SystemExit(f"wxshop: {exc}") from None
    open_database(config.database.url, config.var_dir)
    try:
        prepare(process_clock().now())
        lines = settlement(start, end)
    finally:
        close_database()
    print(settlement_csv(lines), end="")
    return 0
