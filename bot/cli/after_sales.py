"""`wxshop after-sales report [--days 7] [--csv]`: the after-sales service KPI per operator (the brief's 客服KPI:
response time, SLA hit rate, average rating), as a table or the same CSV the admin API gives."""

from __future__ import annotations

import argparse

from bot.cli.groups import Common, command_group
from bot.process.config import Config

HEADER = ("处理人", "已答复", "平均响应(小时)", "时效达标率", "评价数", "平均评分")


def register(sub: argparse._SubParsersAction, common: Common) -> None:
    action = command_group(sub, common, "after-sales", "after-sales service reports")
    report = action("report", "the service KPI per operator over the last days (default 7)", _report)
    report.add_argument("--days", type=int, default=7, metavar="N", help="how many days up to now (1..366)")
    report.add_argument("--csv", action="store_true", help="print CSV (operator, answered, …) instead of a table")


def _report(args: argparse.Namespace, config: Config) -> int:
    from store.after_sales.kpi import kpi_csv, service_kpi
    from store.core.clock import process_clock
    from store.core.db import close_database, open_database
    from store.schema.steps import prepare

    if not 1 <= args.days <= 366:
        raise SystemExit("wxshop: --days must be 1..366")
    open_database(config.database.url, config.var_dir)
    try:
        now = process_clock().now()
        prepare(now)
        kpi = service_kpi(now, args.days)
    finally:
        close_database()
    if args.csv:
        print(kpi_csv(kpi), end="")
        return 0
    print(f"售后服务 KPI {kpi['since'][:16].replace('T', ' ')} – {kpi['until'][:16].replace('T', ' ')}")
    print("\t".join(HEADER))
    for row in [*kpi["operators"], {**kpi["total"], "operator": "合计"}]:
        rate = row["sla_hit_rate"]
        cells = (row["operator"], row["answered"], row["response_hours"],
                 None if rate is None else f"{rate * 100:.1f}%", row["rated"], row["average_rating"])  # fmt: skip
        print("\t".join("-" if cell is None else str(cell) for cell in cells))
    print(f"超时未答复：{kpi['open_overdue']}")
    return 0
