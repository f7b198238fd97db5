"""`wxshop keywords import FILE | export [FILE|-] | delete NAME | list | test TEXT` and `wxshop menu push|publish`:
operator replies and the custom menu."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.cli.groups import Common, command_group
from bot.process.config import Config


def register(sub: argparse._SubParsersAction, common: Common) -> None:
    action = command_group(sub, common, "keywords", "operator keyword replies")
    imp = action("import", "validate a rules file (TOML) whole, then upsert its rules by name", _import)
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--replace", action="store_true", help="also delete rules the file does not name")
    exp = action("export", "write the rules and standing replies as a rules file (the import format)", _export)
    exp.add_argument("file", nargs="?", default="-", metavar="FILE", help="output file, or - for stdout (default)")
    delete = action("delete", "delete the rule named NAME", _delete)
    delete.add_argument("name", metavar="NAME")
    action("list", "list the rules, best-ranked first", _list)
    test = action("test", "show which rule answers TEXT, the reply, and rules that shadow each other", _test)
    test.add_argument("text", metavar="TEXT")

    menu = command_group(sub, common, "menu", "the custom menu")
    menu("push", "validate [[menu.button]] against WeChat's limits and publish it", _menu_push)
    menu("publish", "publish the default menu, then every tag's personalised menu (all checked first)", _menu_publish)


def _open(config: Config) -> None:
    from store.core.clock import process_clock
    from store.core.db import open_database
    from store.schema.steps import prepare

    open_database(config.database.url, config.var_dir)
    prepare(process_clock().now())


def _import(args: argparse.Namespace, config: Config) -> int:
    from bot.process.resources import publish
    from dialogs.intents import shadow_warnings
    from dialogs.rules_cache import channel
    from dialogs.rules_file import RulesInvalid, parse_toml
    from store.chat.keywords import current_version, save_rules
    from store.core.clock import process_clock

    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"wxshop: {args.file}: cannot read: {exc}", file=sys.stderr)
        return 2
    try:
        document = parse_toml(text)
    except RulesInvalid as exc:
        for line in exc.errors[:50]:
            print(f"{args.file}: {line}", file=sys.stderr)
        print(f"wxshop: {len(exc.errors)} problem(s); nothing was imported", file=sys.stderr)
        return 2
    _open(config)
    created, updated, deleted = save_rules(
        document.rules, document.standing, process_clock().now(), replace=args.replace
    )
    publish(config, channel(config.redis.prefix), str(current_version()))
    print(f"imported {len(document.rules)} rule(s): {created} new, {updated} updated, {deleted} deleted")
    for rule in document.rules:
        for line in shadow_warnings(rule["name"], rule["keywords"], rule["match"], rule.get("overrides", False)):
            print(f"warning: {line}")
    return 0


def _export(args: argparse.Namespace, config: Config) -> int:
    from dialogs.rules_export import rules_toml
    from store.chat.keywords import load_rule_set

    _open(config)
    rule_set = load_rule_set()
    text = rules_toml(rule_set)
    if args.file == "-":
        sys.stdout.write(text)
        return 0
    try:
        Path(args.file).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"wxshop: cannot write {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"exported {len(rule_set.rules)} rule(s) to {args.file}", file=sys.stderr)
    return 0


def _delete(args: argparse.Namespace, config: Config) -> int:
    from bot.process.resources import publish
    from dialogs.rules_cache import channel
    from store.chat.keywords import current_version, delete_rule

    _open(config)
    if not delete_rule(args.name):
        print(f"wxshop: no rule named {args.name!r}", file=sys.stderr)
        return 1
    publish(config, channel(config.redis.prefix), str(current_version()))
    print(f"deleted rule {args.name!r}")
    return 0


def _list(args: argparse.Namespace, config: Config) -> int:
    from store.chat.keywords import load_rule_set

    _open(config)
    rules = sorted(load_rule_set().rules, key=lambda r: (-r.priority, r.id))
    for rule in rules:
        state = "on " if rule.enabled else "off"
        window = ""
        if rule.starts or rule.ends:
            window = f" [{rule.starts:%Y-%m-%d %H:%M} → {rule.ends:%Y-%m-%d %H:%M}]" if rule.starts and rule.ends else (
                f" [from {rule.starts:%Y-%m-%d %H:%M}]" if rule.starts else f" [until {rule.ends:%Y-%m-%d %H:%M}]"
            )
        keywords = "、".join(rule.keywords)
        print(f"{state} {rule.priority:>5}  {rule.match:<8} {rule.name}: {keywords}{window}")
    print(f"{len(rules)} rule(s)")
    return 0


def _test(args: argparse.Namespace, config: Config) -> int:
    from bot.chat.probe import describe, verdict
    from bot.process.resources import open_resources
    from dialogs.intents import GLOBAL, shadow_warnings
    from dialogs.rules_cache import compile_rules
    from store.chat.keywords import load_rule_set
    from store.schema.steps import prepare

    resources = open_resources(config)
    try:
        now = resources.clock.now()
        prepare(now)
        compiled = compile_rules(load_rule_set())
        found = verdict(config, resources, compiled, args.text)
        if found.hijacked_by is not None and found.matched is not None:
            name = found.matched[1].name
            if found.hijacked_by in GLOBAL:
                print(f"rule {name} matches, but the global word {found.hijacked_by} always answers first")
            else:
                print(f"rule {name} matches, but the built-in {found.hijacked_by} answers: it reads the follower's "
                      "own data (the rule can set overrides = true)")
        if found.rule is not None:
            match, record = found.rule
            print(f"rule: {record.name} ({match.mode} on {match.keyword!r}, priority {record.priority})")
            for reply in record.replies:
                print(f"reply ({record.reply_mode}): {json.dumps(reply, ensure_ascii=False)}")
        elif found.engine is not None:
            print(f"no rule answers; the dialog engine does, with {found.engine.step}")
            for line in describe(found.engine.answer):
                print(line)
        for conflict in compiled.matcher.conflicts(now):
            print(f"conflict: {conflict}")
        for rule in compiled.matcher.rules:
            for line in shadow_warnings(rule.name, rule.keywords, rule.match, rule.reply.overrides):
                print(f"warning: {line}")
    finally:
        resources.close_sync()
    return 0


def _menu_publish(args: argparse.Namespace, config: Config) -> int:
    from bot.process.resources import command_gateway
    from bot.wechat.menu import MenuInvalid
    from bot.wechat.tag_menus import publish_menus
    from store.core.clock import process_clock
    from store.core.db import close_database
    from store.core.wechat_errors import WeChatError

    _open(config)
    try:
        with command_gateway(config) as gateway:
            lines = publish_menus(gateway, config, process_clock().now())
    except MenuInvalid as exc:
        for line in exc.errors:
            print(f"config: {line}", file=sys.stderr)
        print("wxshop: a menu breaks WeChat's limits; nothing was published", file=sys.stderr)
        return 2
    except WeChatError as exc:
        print(f"wxshop: WeChat refused a menu: {exc}", file=sys.stderr)
        return 1
    finally:
        close_database()
    for line in lines:
        print(line)
    return 0


def _menu_push(args: argparse.Namespace, config: Config) -> int:
    from bot.process.resources import command_gateway
    from bot.wechat.menu import MenuInvalid, build_menu
    from store.core.wechat_errors import WeChatError

    try:
        menu = build_menu(config.menu)
    except MenuInvalid as exc:
        for line in exc.errors:
            print(f"config: [[menu.button]] {line}", file=sys.stderr)
        print("wxshop: the menu breaks WeChat's limits; nothing was pushed", file=sys.stderr)
        return 2
    try:
        with command_gateway(config) as gateway:
            gateway.create_menu(menu)
    except WeChatError as exc:
        print(f"wxshop: WeChat refused the menu: {exc}", file=sys.stderr)
        return 1
    print(f"menu pushed: {len(menu['button'])} button(s)")
    return 0
