"""A command with actions (`wxshop catalog import|export|search`): the one shape every command group shares."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bot.process.config import Config

Run = Callable[[argparse.Namespace, Config], int]
Common = Callable[[argparse.ArgumentParser, bool], None]
Action = Callable[[str, str, Run], argparse.ArgumentParser]


def command_group(sub: argparse._SubParsersAction, common: Common, name: str, help: str) -> Action:
    """Add `wxshop NAME ACTION`; returns `action(name, help, run)`, which adds one action and returns its parser.
    Every level takes the global options (--config, --log-format, --log-level)."""
    group = sub.add_parser(name, help=help, description=help)
    common(group, False)
    actions = group.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)

    def action(action_name: str, action_help: str, run: Run) -> argparse.ArgumentParser:
        parser = actions.add_parser(action_name, help=action_help, description=action_help)
        common(parser, False)
        parser.set_defaults(run=run)
        return parser

    return action
