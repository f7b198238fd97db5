"""`wxshop campaigns list|show|create|start|cancel`: campaigns from the command line, as the admin API has them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.cli.groups import Common, command_group
from bot.process.config import Config


def register(sub: argparse._SubParsersAction, common: Common) -> None:
    action = command_group(sub, common, "campaigns", "campaigns to segments: create, start, schedule, cancel, results")
    action("list", "every campaign with its results, one line each", _list)
    show = action("show", "one campaign's results as JSON", _show)
    show.add_argument("name", metavar="NAME")
    create = action("create", "create a draft campaign (linted for its channel)", _create)
    create.add_argument("name", metavar="NAME")
    create.add_argument("--segment", required=True)
    create.add_argument("--subject", required=True)
    create.add_argument("--detail", required=True)
    create.add_argument("--channel", choices=("both", "custom", "template"), default="both",
                        help="both: customer-service message inside a window, template outside (default)")  # fmt: skip
    create.add_argument("--coupon", help="a coupon template's code: one coupon per member")
    create.add_argument("--url", default="", help="where the message's link leads (taps are counted)")
    create.add_argument("--per-minute", type=int, default=0, help="throttle: notices per minute (0: all at once)")
    create.add_argument("--attribution-days", type=int, help="orders counted after the message ([marketing])")
    start = action("start", "queue it now, or --at a time (ISO, Asia/Shanghai) to schedule it", _start)
    start.add_argument("name", metavar="NAME")
    start.add_argument("--at", help="e.g. 2026-12-12T10:00")
    start.add_argument("--dry-run", action="store_true", help="print who it would reach; queue nothing")
    cancel = action("cancel", "cancel it: notices not sent yet are dropped, their coupons taken back", _cancel)
    cancel.add_argument("name", metavar="NAME")


def _opened(config: Config, run: Callable[[datetime], Any]) -> Any:
    from store.core.clock import process_clock
    from store.core.db import close_database, open_database
    from store.schema.steps import prepare

    open_database(config.database.url, config.var_dir)
    try:
        now = process_clock().now()
        prepare(now)
        return run(now)
    finally:
        close_database()


def _fail(message: str) -> int:
    print(f"wxshop: {message}", file=sys.stderr)
    return 1


def _list(args: argparse.Namespace, config: Config) -> int:
    from store.profiles.campaign_results import campaign_result
    from store.profiles.campaigns import list_campaigns

    def run(now: datetime) -> None:
        for c in list_campaigns():
            r = campaign_result(c.name)
            print(f"{r.name} [{r.status}, {r.channel}] segment {r.segment}: targeted {r.targeted}, sent {r.sent}, "
                  f"delivered {r.delivered}, clicked {r.clicked}, orders {r.orders}, "
                  f"revenue ¥{r.revenue_fen / 100:.2f}")  # fmt: skip

    _opened(config, run)
    return 0


def _show(args: argparse.Namespace, config: Config) -> int:
    from store.profiles.campaign_results import campaign_result
    from store.profiles.campaigns import CampaignError

    try:
        result = _opened(config, lambda now: campaign_result(args.name))
    except CampaignError as exc:
        return _fail(str(exc))
    print(json.dumps(result.as_dict(), ensure_ascii=False, default=str, indent=2))
    return 0


def _create(args: argparse.Namespace, config: Config) -> int:
    from store.outbox.template_lint import TemplateLintError
    from store.profiles.campaigns import CampaignError, CampaignOptions, create_campaign

    options = CampaignOptions(
        channel=args.channel, coupon=args.coupon, url=args.url, per_minute=args.per_minute,
        attribution_days=args.attribution_days or config.marketing.attribution_days,
    )  # fmt: skip
    fields = {"subject": args.subject, "detail": args.detail}
    try:
        _opened(config, lambda now: create_campaign(args.name, args.segment, fields, now, options))
    except TemplateLintError as exc:
        for problem in exc.problems:
            print(f"wxshop: {problem}", file=sys.stderr)
        return 1
    except CampaignError as exc:
        return _fail(str(exc))
    print(f"campaign {args.name}: draft ({args.channel})")
    return 0


def _start(args: argparse.Namespace, config: Config) -> int:
    from bot.admin.campaigns import parse_time
    from store.profiles.campaigns import CampaignError, dry_run, schedule_campaign, start_campaign

    def run(now: datetime) -> str:
        if args.dry_run:
            plan = dry_run(args.name, now)
            return f"campaign {args.name} would reach {plan['would_queue']} of {plan['targeted']} (dry run)"
        if args.at:
            row = schedule_campaign(args.name, parse_time(args.at), now)
            return f"campaign {args.name}: {row.status} for {row.starts_at:%Y-%m-%d %H:%M}"
        return f"campaign {args.name}: queued {start_campaign(args.name, now)}"

    try:
        print(_opened(config, run))
    except CampaignError as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(f"--at: {exc}")
    return 0


def _cancel(args: argparse.Namespace, config: Config) -> int:
    from store.profiles.campaigns import CampaignError, cancel_campaign

    try:
        done = _opened(config, lambda now: cancel_campaign(args.name, now))
    except CampaignError as exc:
        return _fail(str(exc))
    print(f"campaign {args.name}: cancelled ({done['cancelled_notices']} notices dropped, "
          f"{done['coupons_withdrawn']} coupons taken back)")  # fmt: skip
    return 0
