"""分销 in the admin API: the settlement report of a period, and the promoters.

* `GET /admin/api/commission/report?from=YYYY-MM-DD&to=YYYY-MM-DD[&format=csv]` — commissions of orders paid in
  the period (both days included, Asia/Shanghai), per promoter (`orders`, `earned_fen`, `reversed_fen`,
  `pending_fen`, `confirmed_fen` = the payout), with totals and the lines themselves (the newest 1000); the CSV
  is the per-promoter table, for payment. 400 when a date is missing or malformed.
* `GET /admin/api/commission/promoters` — every promoter with their code's scene and their earnings now.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from bot.admin.api import dumps, error
from bot.web.runtime import RESOURCES, run_blocking
from store.commission.reports import (
    COLUMNS,
    PeriodInvalid,
    commission_lines,
    earnings,
    period,
    promoters,
    settlement,
    settlement_csv,
)


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_get("/api/commission/report", report_view)
    admin.router.add_get("/api/commission/promoters", promoters_view)


async def report_view(request: web.Request) -> web.Response:
    first, last = request.query.get("from", ""), request.query.get("to", "")
    try:
        start, end = period(first, last)
    except PeriodInvalid as exc:
        return error(400, str(exc))
    lines = await run_blocking(request.config_dict, settlement, start, end)
    if request.query.get("format") == "csv":
        name = f"commission-{first}-{last}.csv"
        return web.Response(text=settlement_csv(lines), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
    detail = await run_blocking(request.config_dict, commission_lines, start, end)
    totals = {column: sum(getattr(line, column) for line in lines) for column in COLUMNS[1:]}
    body = {"from": first, "to": last, "promoters": [asdict(line) for line in lines], "totals": totals,
            "lines": detail}  # fmt: skip
    return web.json_response(body, dumps=dumps)


async def promoters_view(request: web.Request) -> web.Response:
    now = request.config_dict[RESOURCES].clock.now()

    def load() -> list[dict[str, Any]]:
        return [{**p, **asdict(earnings(p["openid"], now))} for p in promoters()]

    return web.json_response({"promoters": await run_blocking(request.config_dict, load)}, dumps=dumps)
