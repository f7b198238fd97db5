"""`wxshop operators add|list|disable|enable|reset-password|set-role`: console accounts and their roles, as an
admin manages them in the console's 账号管理 (`wxshop admin create-user` / `disable-user` stay as they were)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from bot.cli.admin import _fail, _open, _read_password
from bot.cli.groups import Common, command_group
from bot.process.config import Config

ROLE_CHOICES = ("admin", "operator", "viewer")


def register(sub: argparse._SubParsersAction, common: Common) -> None:
    action = command_group(sub, common, "operators", "console accounts and their roles (admin, operator, viewer)")
    add = action("add", "add an account with a role; the password is asked for (or read from stdin)", _add)
    add.add_argument("username", metavar="USERNAME")
    add.add_argument("--role", choices=ROLE_CHOICES, default="operator", help="default: operator")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first stdin line")
    action("list", "every account: role, enabled, whether it must change its password", _list)
    for name, run, what in (("disable", _disable, "stop an account signing in and end its sessions"),
                            ("enable", _enable, "let a disabled account sign in again")):  # fmt: skip
        action(name, what, run).add_argument("username", metavar="USERNAME")
    reset = action("reset-password", "set a new password the user must change at the next sign-in", _reset)
    reset.add_argument("username", metavar="USERNAME")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from the first stdin line")
    role = action("set-role", "give an account another role", _set_role)
    role.add_argument("username", metavar="USERNAME")
    role.add_argument("role", choices=ROLE_CHOICES)


def _end_sessions(config: Config, username: str) -> int:
    from bot.admin.sessions import end_user_sessions
    from bot.process.resources import command_redis

    with command_redis(config) as client:
        return end_user_sessions(client, config.redis.prefix, username)


def _add(args: argparse.Namespace, config: Config) -> int:
    from store.core.clock import process_clock
    from store.core.db import close_database
    from store.operators.users import AdminUserError, UserExists, check_username, create_user, user_exists

    try:
        check_username(args.username)
    except AdminUserError as exc:
        return _fail(str(exc))
    _open(config)
    try:
        if user_exists(args.username):
            return _fail(f"admin user {args.username!r} exists already", 1)
        password = _read_password(args.password_stdin)
        if password is None:
            return _fail("the passwords do not match; no user was created")
        create_user(args.username, password, process_clock().now(), args.role)
    except UserExists as exc:
        return _fail(str(exc), 1)
    except AdminUserError as exc:
        return _fail(f"{exc}; no user was created")
    except EOFError as exc:
        return _fail(f"{exc or 'no password given'}; no user was created")
    finally:
        close_database()
    print(f"{args.role} {args.username!r} created; sign in at {config.server.public_url.rstrip('/')}/admin/")
    return 0


def _list(args: argparse.Namespace, config: Config) -> int:
    from store.core.db import close_database
    from store.operators.users import list_users

    _open(config)
    try:
        users = list_users()
    finally:
        close_database()
    if not users:
        print("no accounts: add one with `wxshop operators add USERNAME --role admin`")
    for user in users:
        state = "disabled" if user.disabled else "enabled"
        change = "  must change password" if user.must_change_password else ""
        print(f"{user.username:<24} {user.role:<9} {state}{change}")
    return 0


def _change(username: str, config: Config, work: Callable[[], bool]) -> int | bool:
    """`work()`'s answer (whether it changed anything), or the exit code of the failure it reported."""
    from store.core.db import close_database
    from store.operators.users import AdminUserError, UserNotFound

    _open(config)
    try:
        return work()
    except UserNotFound as exc:
        return _fail(str(exc), 1)
    except AdminUserError as exc:
        return _fail(str(exc))
    finally:
        close_database()


def _disable(args: argparse.Namespace, config: Config) -> int:
    from store.core.clock import process_clock
    from store.operators.users import disable_user

    changed = _change(args.username, config, lambda: disable_user(args.username, process_clock().now()))
    if not isinstance(changed, bool):
        return changed
    ended = _end_sessions(config, args.username)
    print(f"{args.username!r} {'disabled' if changed else 'was disabled already'}; {ended} session(s) ended")
    return 0


def _enable(args: argparse.Namespace, config: Config) -> int:
    from store.operators.users import enable_user

    changed = _change(args.username, config, lambda: enable_user(args.username))
    if not isinstance(changed, bool):
        return changed
    print(f"{args.username!r} {'enabled' if changed else 'was enabled already'}")
    return 0


def _set_role(args: argparse.Namespace, config: Config) -> int:
    from store.operators.users import set_role

    changed = _change(args.username, config, lambda: set_role(args.username, args.role))
    if not isinstance(changed, bool):
        return changed
    print(f"{args.username!r} {'is now' if changed else 'was already'} {args.role}")
    return 0


def _reset(args: argparse.Namespace, config: Config) -> int:
    from store.core.clock import process_clock
    from store.operators.users import reset_password

    try:
        password = _read_password(args.password_stdin)
    except EOFError as exc:
        return _fail(f"{exc or 'no password given'}; nothing was changed")
    if password is None:
        return _fail("the passwords do not match; nothing was changed")

    def work() -> bool:
        reset_password(args.username, password, process_clock().now())
        return True

    done = _change(args.username, config, work)
    if done is not True:
        return int(done)
    ended = _end_sessions(config, args.username)
    print(f"{args.username!r} has a new password to change at the next sign-in; {ended} session(s) ended",
          file=sys.stdout)  # fmt: skip
    return 0
