"""`wxshop segments sync-tags [NAME]` and `wxshop segments tag NAME [--as TAG] [--off]`: segments and tiers synced
to WeChat user tags (the nightly job's work, run now), and a segment marked "sync to tag" from the command line."""

from __future__ import annotations

import argparse
import sys

from bot.cli.groups import Common, command_group
from bot.process.config import Config


def register(sub: argparse._SubParsersAction, common: Common) -> None:
    action = command_group(sub, common, "segments", "segments synced to WeChat user tags")
    what = "sync every tag (tier tags and segments marked \"sync to tag\"), or only NAME (a tag or segment), now"
    sync = action("sync-tags", what, _sync_tags)
    sync.add_argument("name", nargs="?", metavar="NAME")
    mark = action("tag", "mark segment NAME \"sync to tag\" (the tag is named as the segment unless --as)", _mark)
    mark.add_argument("name", metavar="NAME")
    mark.add_argument("--as", dest="tag", default="", metavar="TAG", help="the tag's name on WeChat (≤ 30 bytes)")
    mark.add_argument("--off", action="store_true", help="stop syncing the segment (the tag stays on WeChat)")


def _open(config: Config) -> None:
    from store.core.clock import process_clock
    from store.core.db import open_database
    from store.schema.steps import prepare

    open_database(config.database.url, config.var_dir)
    prepare(process_clock().now())


def _sync_tags(args: argparse.Namespace, config: Config) -> int:
    from bot.features.tags import sync_settings
    from bot.process.resources import command_gateway
    from scheduler.tag_jobs import sync_tags
    from store.core.clock import process_clock
    from store.core.db import close_database
    from store.core.wechat_errors import WeChatError

    _open(config)
    try:
        with command_gateway(config) as gateway:
            results = sync_tags(gateway, sync_settings(config), process_clock().now(), args.name)
    except WeChatError as exc:
        print(f"wxshop: WeChat refused the tag list: {exc}", file=sys.stderr)
        return 1
    finally:
        close_database()
    if not results:
        print(f"wxshop: no tag or segment named {args.name!r} syncs to a tag" if args.name else "no tags to sync",
              file=sys.stderr if args.name else sys.stdout)  # fmt: skip
        return 2 if args.name else 0
    for result in results:
        print(result.line())
    return 1 if any(r.error for r in results) else 0


def _mark(args: argparse.Namespace, config: Config) -> int:
    from store.core.clock import process_clock
    from store.core.db import close_database
    from store.tags.links import TagError, mark_segment

    _open(config)
    try:
        row = mark_segment(args.name, not args.off, args.tag, process_clock().now())
    except TagError as exc:
        print(f"wxshop: {exc}", file=sys.stderr)
        return 2
    finally:
        close_database()
    state = "syncs to" if row.syncing else "no longer syncs to"
    print(f"segment {args.name} {state} WeChat tag {row.name}")
    return 0
