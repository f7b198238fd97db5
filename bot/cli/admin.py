"""`wxshop admin create-user USERNAME [--password-stdin]` and `wxshop admin disable-user USERNAME`: who may sign
in to the web console at /admin/."""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.cli.groups import Common, command_group
from bot.process.config import Config


def register(sub: argparse._SubParsersAction, common: Common) -> None:
    action = command_group(sub, common, "admin", "users of the web console at /admin/")
    create = action("create-user", "add a console user; the password is asked for (or read from stdin)", _create)
    create.add_argument("username", metavar="USERNAME")
    create.add_argument("--password-stdin", action="store_true", help="read the password from the first stdin line")
    disable = action("disable-user", "stop a console user from signing in and end their sessions", _disable)
    disable.add_argument("username", metavar="USERNAME")


def _open(config: Config) -> None:
    from store.core.clock import process_clock
    from store.core.db import open_database
    from store.schema.steps import prepare

    open_database(config.database.url, config.var_dir)
    prepare(process_clock().now())


def _fail(message: str, code: int = 2) -> int:
    print(f"wxshop: {message}", file=sys.stderr)
    return code


def _read_password(from_stdin: bool) -> str | None:
    """The new password; None when the two prompts differ. EOF or ^C end the command like any other input."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise EOFError("no terminal to ask for the password on: pipe it in with --password-stdin")
    first = getpass.getpass("Password: ")
    return first if getpass.getpass("Repeat password: ") == first else None


def _create(args: argparse.Namespace, config: Config) -> int:
    from store.core.clock import process_clock
    from store.core.db import close_database
    from store.operators.users import AdminUserError, UserExists, check_username, create_user, user_exists

    try:
        check_username(args.username)
    except AdminUserError as exc:
        return _fail(str(exc))
    _open(config)
    try:
        if user_exists(args.username):  # said before the password is typed; the insert decides races
            return _fail(f"admin user {args.username!r} exists already", 1)
        password = _read_password(args.password_stdin)
        if password is None:
            return _fail("the passwords do not match; no user was created")
        create_user(args.username, password, process_clock().now())
    except UserExists as exc:
        return _fail(str(exc), 1)
    except AdminUserError as exc:
        return _fail(f"{exc}; no user was created")
    except EOFError as exc:
        return _fail(f"{exc or 'no password given'}; no user was created")
    finally:
        close_database()
    print(f"admin user {args.username!r} created; sign in at {config.server.public_url.rstrip('/')}/admin/")
    return 0


def _disable(args: argparse.Namespace, config: Config) -> int:
    from bot.admin.sessions import end_user_sessions
    from bot.process.resources import command_redis
    from store.core.clock import process_clock
    from store.core.db import close_database
    from store.operators.users import UserNotFound, disable_user

    _open(config)
    try:
        changed = disable_user(args.username, process_clock().now())
    except UserNotFound as exc:
        return _fail(str(exc), 1)
    finally:
        close_database()
    with command_redis(config) as client:
        ended = end_user_sessions(client, config.redis.prefix, args.username)
    state = "disabled" if changed else "was disabled already"
    print(f"admin user {args.username!r} {state}; {ended} session(s) ended")
    return 0
