"""`wxshop nlu unanswered | teach TEXT INTENT | forget TEXT INTENT | eval [FILE]`: the understanding layer's
learning loop from the terminal. Taught examples reach every running `serve` without a restart."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.groups import Common, command_group
from bot.process.config import Config


def register(sub: argparse._SubParsersAction, common: Common) -> None:
    action = command_group(sub, common, "nlu", "the understanding layer: unanswered questions, teaching, evaluation")
    unanswered = action("unanswered", "what shoppers asked that the bot could not place, most frequent first",
                        _unanswered)  # fmt: skip
    unanswered.add_argument("--limit", type=int, default=50, metavar="N")
    unanswered.add_argument("--all", action="store_true", help="include questions already taught")
    teach = action("teach", "add an example: TEXT means INTENT (the model retrains in every process)", _teach)
    teach.add_argument("text", metavar="TEXT")
    teach.add_argument("intent", metavar="INTENT")
    forget = action("forget", "remove an example taught before", _forget)
    forget.add_argument("text", metavar="TEXT")
    forget.add_argument("intent", metavar="INTENT")
    evaluate = action("eval", "accuracy per intent, confusions and misses on a labelled file "
                      "(intent<TAB>text[<TAB>split]; default: the shipped set)", _eval)  # fmt: skip
    evaluate.add_argument("file", type=Path, nargs="?", metavar="FILE")
    evaluate.add_argument("--show-heldout-misses", action="store_true")
    action("intents", "the intents the model knows, with the words the bot uses for them", _intents)


def _open(config: Config) -> None:
    from store.core.clock import process_clock
    from store.core.db import open_database
    from store.schema.steps import prepare

    open_database(config.database.url, config.var_dir)
    prepare(process_clock().now())


def _unanswered(args: argparse.Namespace, config: Config) -> int:
    from store.chat.nlu import list_unanswered

    _open(config)
    rows = list_unanswered(args.limit, include_taught=args.all)
    for row in rows:
        taught = f"  → taught as {row.taught_intent}" if row.taught_intent else ""
        print(f"{row.count:>6}  {row.last_seen:%Y-%m-%d %H:%M}  {row.outcome:<8} {row.text}{taught}")
    print(f"{len(rows)} question(s)" + ("" if rows else ": nothing unanswered"))
    return 0


def _known_intents(config: Config) -> dict[str, str]:
    from bot.chat.conversation import understander_for

    return dict(understander_for(config).current.labels)


def _teach(args: argparse.Namespace, config: Config) -> int:
    from bot.process.resources import publish
    from dialogs.rules_cache import channel
    from dialogs.understanding.teaching import ExampleInvalid, check_example, teach
    from store.core.clock import process_clock

    known = _known_intents(config)
    try:
        check_example(args.text, args.intent, known)  # before opening the database: a typo costs nothing
        _open(config)
        example, added = teach(args.text, args.intent, known, process_clock().now())
    except ExampleInvalid as exc:
        hint = "; `wxshop nlu intents` lists them" if exc.unknown_intent else ""
        print(f"wxshop: {exc}{hint}", file=sys.stderr)
        return 2
    if added:
        publish(config, channel(config.redis.prefix), "nlu")
    print(f"taught: {example.text!r} means {example.intent} ({known[example.intent]})" if added else "known already")
    return 0


def _forget(args: argparse.Namespace, config: Config) -> int:
    from bot.process.resources import publish
    from dialogs.rules_cache import channel
    from store.chat.nlu import remove_example

    _open(config)
    if not remove_example(args.text, args.intent):
        print(f"wxshop: no example {args.text!r} for {args.intent}", file=sys.stderr)
        return 1
    publish(config, channel(config.redis.prefix), "nlu")
    print(f"forgotten: {args.text!r} as {args.intent}")
    return 0


def _eval(args: argparse.Namespace, config: Config) -> int:
    from dialogs.understanding.evaluate import evaluate, shipped_eval_path

    path = args.file or shipped_eval_path()
    try:
        report = evaluate(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"wxshop: {path}: {exc}", file=sys.stderr)
        return 2
    print(report.text(show_heldout_misses=args.show_heldout_misses))
    return 0


def _intents(args: argparse.Namespace, config: Config) -> int:
    for intent, label in sorted(_known_intents(config).items()):
        print(f"{intent:<22} {label}")
    return 0
