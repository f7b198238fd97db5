"""`wxshop` command line. Every command takes --config; every failure is one clear line and a non-zero exit."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

import peewee
import redis

from bot.cli import admin as cli_admin
from bot.cli import after_sales as cli_after_sales
from bot.cli import campaigns as cli_campaigns
from bot.cli import catalog as cli_catalog
from bot.cli import chat as cli_chat
from bot.cli import commission as cli_commission
from bot.cli import keywords as cli_keywords
from bot.cli import members as cli_members
from bot.cli import nlu as cli_nlu
from bot.cli import operators as cli_operators
from bot.cli import orders as cli_orders
from bot.cli import tags as cli_tags
from bot.process.config import Config, ConfigError, load
from bot.process.logs import setup_logging
from bot.web.listen import CannotListen
from dialogs.understanding.corpus import CorpusError
from store.core.clock import ClockSpecError, process_clock
from store.schema.steps import SchemaOutOfDate

log = logging.getLogger("wxshop.cli")


def _common(parser: argparse.ArgumentParser, top: bool) -> None:
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--config", metavar="PATH", default=default, help="config file (default ./config.toml)")
    parser.add_argument("--log-format", choices=["text", "json"], default="text" if top else argparse.SUPPRESS)
    parser.add_argument("--log-level", default="INFO" if top else argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wxshop", description="A conversational shop for a WeChat service account.")
    _common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help: str, run: Callable[[argparse.Namespace, Config], int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        _common(p, top=False)
        p.set_defaults(run=run)
        return p

    serve = command("serve", "run the HTTP server (callback, pay notify, admin, /healthz, /metrics)", _serve)
    serve.add_argument("--workers", type=int, metavar="N", help="processes sharing the port (default [server] workers)")
    serve.add_argument("--child", action="store_true", help=argparse.SUPPRESS)

    worker = command("worker", "run the job worker (queued jobs and the cron table)", _worker)
    worker.add_argument("--burst", action="store_true", help="run the jobs that are due, then exit")

    command("demo", "run the demo shop on embedded defaults", _demo)

    wechat = command("wechat", "talk to the WeChat API with the configured credentials", _db_help)
    wechat_sub = wechat.add_subparsers(dest="wechat_command", metavar="ACTION", required=True)
    token = wechat_sub.add_parser("token", help="get the shared access token (fetching one if none is cached)")
    _common(token, top=False)
    token.set_defaults(run=_wechat_token)

    db = command("db", "database schema", _db_help)
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = db_sub.add_parser("upgrade", help="bring the schema up to date (safe to run again)")
    _common(up, top=False)
    up.set_defaults(run=_db_upgrade)
    st = db_sub.add_parser("status", help="show the schema version")
    _common(st, top=False)
    st.set_defaults(run=_db_status)

    cli_catalog.register(sub, _common)
    cli_keywords.register(sub, _common)
    cli_orders.register(sub, _common)
    cli_chat.register(sub, _common)
    cli_admin.register(sub, _common)
    cli_operators.register(sub, _common)
    cli_nlu.register(sub, _common)
    cli_members.register(sub, _common)
    cli_after_sales.register(sub, _common)
    cli_campaigns.register(sub, _common)
    cli_commission.register(sub, _common)
    cli_tags.register(sub, _common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_format, args.log_level.upper())
    try:
        process_clock()  # a bad WXSHOP_CLOCK is refused before anything starts
        config = load(args.config)
        return args.run(args, config)
    except (ConfigError, SchemaOutOfDate, ClockSpecError, CorpusError) as exc:
        print(f"wxshop: {exc}", file=sys.stderr)
        return 2
    except peewee.OperationalError as exc:
        print(f"wxshop: database unavailable: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        print(f"wxshop: redis unavailable: {exc}", file=sys.stderr)
        return 1
    except CannotListen as exc:
        print(f"wxshop: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _tail(args: argparse.Namespace) -> list[str]:
    """The global options, for re-invoking ourselves in child processes."""
    tail = ["--log-format", args.log_format, "--log-level", args.log_level]
    if args.config:
        tail += ["--config", args.config]
    return tail


def _serve(args: argparse.Namespace, config: Config) -> int:
    from bot.cli.serve import run_one, serve

    if (refused := _published_refusal(config)) is not None:
        return refused
    if args.child:
        run_one(config, reuse_port=True)
        return 0
    return serve(config, args.workers, _tail(args))


def _worker(args: argparse.Namespace, config: Config) -> int:
    from bot.jobs.worker import run_worker

    if (refused := _published_refusal(config)) is not None:
        return refused
    return run_worker(config, burst=args.burst)


def _published_refusal(config: Config) -> int | None:
    """Exit status 2, after one line, when a secret config.toml publishes would sign real traffic."""
    from bot.process.published_secrets import refusal

    line = refusal(config)
    if line is None:
        return None
    print(f"wxshop: {line}", file=sys.stderr)
    return 2


def _demo(args: argparse.Namespace, config: Config) -> int:
    import asyncio

    from bot.cli.demo import demo_listeners, run_demo
    from bot.sandbox.demo_seed import seed_demo_shop
    from store.core.db import close_database, open_database

    listeners = demo_listeners(config)  # a second demo stops here, before touching the database
    try:
        _migrate(config)
        open_database(config.database.url, config.var_dir)
        try:
            for line in seed_demo_shop(process_clock().now()):
                print(f"seeded {line}")
        finally:
            close_database()
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    return asyncio.run(run_demo(config, _tail(args), listeners))


def _db_help(args: argparse.Namespace, config: Config) -> int:  # pragma: no cover - argparse requires ACTION
    return 2


def _wechat_token(args: argparse.Namespace, config: Config) -> int:
    from bot.process.resources import command_gateway
    from store.core.wechat_errors import WeChatError

    try:
        with command_gateway(config) as gateway:
            token = gateway.access_token()
    except WeChatError as exc:
        print(f"wxshop: {exc}", file=sys.stderr)
        return 1
    print(f"access token ok: {token[:6]}…{token[-4:]} ({len(token)} chars)")
    return 0


def _migrate(config: Config) -> list[str]:
    from store.core.db import close_database, open_database
    from store.schema.steps import upgrade

    open_database(config.database.url, config.var_dir)
    try:
        return [f"{s.version}: {s.description}" for s in upgrade(process_clock().now())]
    finally:
        close_database()


def _seed_coupons(config: Config) -> list[str]:
    """The `[[coupons]]` templates the store does not have yet (serve creates them at start-up too)."""
    from store.core.db import close_database, open_database
    from store.promotions.configured_templates import seed_configured_templates

    if not config.coupons:
        return []
    open_database(config.database.url, config.var_dir)
    try:
        return seed_configured_templates(config.coupons, process_clock().now())
    finally:
        close_database()


def _db_upgrade(args: argparse.Namespace, config: Config) -> int:
    applied = _migrate(config)
    for line in applied:
        print(f"applied {line}")
    print("schema up to date" if applied else "schema already up to date")
    created = _seed_coupons(config)
    if created:
        print(f"coupon templates created from [[coupons]]: {', '.join(created)}")
    return 0


def _db_status(args: argparse.Namespace, config: Config) -> int:
    from store.core.db import close_database, open_database
    from store.schema.steps import LATEST, current_version, missing_steps

    open_database(config.database.url, config.var_dir)
    try:
        version, missing = current_version(), missing_steps()
    finally:
        close_database()
    gaps = f", missing step(s) {', '.join(str(s.version) for s in missing)}" if missing else ""
    print(f"schema version {version} (code needs {LATEST}){gaps}")
    return 0 if version == LATEST and not missing else 1
