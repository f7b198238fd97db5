"""Operators who sign in to the web console: a username, a scrypt password hash with its own salt, a disabled flag.

Passwords are hashed with the standard library's `hashlib.scrypt` (no dependency), stored as
`scrypt$n$r$p$salt$hash` (hex) so the cost can be raised later without breaking older rows. A check costs the same
for an unknown username as for a wrong password: the unknown name is checked against a dummy hash.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from datetime import datetime

import peewee

from store.core.db import BaseModel, ShanghaiDateTimeField, write_transaction

MIN_PASSWORD_CHARS = 10
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # about 16 MiB and a few tens of milliseconds per check
SALT_BYTES = 16
KEY_BYTES = 32


class AdminUser(BaseModel):
    username = peewee.CharField(max_length=64, unique=True)
    password_hash = peewee.CharField(max_length=255)
    created_at = ShanghaiDateTimeField()
    disabled = peewee.BooleanField(default=False)
    disabled_at = ShanghaiDateTimeField(null=True)


class AdminUserError(Exception):
    """A console user cannot be created or changed; the message says why, in one line."""


class WeakPassword(AdminUserError):
    pass


class InvalidUsername(AdminUserError):
    pass


class UserExists(AdminUserError):
    pass


class UserNotFound(AdminUserError):
    pass


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def verify_password(stored: str, password: str) -> bool:
    """Constant-time comparison against a stored hash; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(key)
        given = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p), len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(given, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int = KEY_BYTES) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=length)


@functools.cache
def _dummy_hash() -> str:
    """What an unknown username is checked against, so that it costs what a wrong password costs."""
    return hash_password(secrets.token_urlsafe(16))


def check_username(username: str) -> None:
    if not USERNAME.fullmatch(username):
        raise InvalidUsername(
            f"invalid username {username!r}: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter"
            " or digit"
        )


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise WeakPassword(f"the password is too short: at least {MIN_PASSWORD_CHARS} characters")


def user_exists(username: str) -> bool:
    return AdminUser.select().where(AdminUser.username == username).exists()


def create_user(username: str, password: str, now: datetime) -> AdminUser:
    """Race-safe by the unique username: of two concurrent creations one gets `UserExists`."""
    check_username(username)
    check_password(password)
    hashed = hash_password(password)
    try:
        with write_transaction():
            return AdminUser.create(username=username, password_hash=hashed, created_at=now)
    except peewee.IntegrityError:
        raise UserExists(f"admin user {username!r} exists already") from None


def disable_user(username: str, now: datetime) -> bool:
    """Mark the user disabled; False when it was disabled already."""
    with write_transaction():
        user = AdminUser.get_or_none(AdminUser.username == username)
        if user is None:
            raise UserNotFound(f"no admin user {username!r}")
        if user.disabled:
            return False
        AdminUser.update(disabled=True, disabled_at=now).where(AdminUser.id == user.id).execute()
    return True


def authenticate(username: str, password: str) -> AdminUser | None:
    """The enabled user with these credentials, else None. Unknown users, wrong passwords and disabled users cost
    one scrypt each and look alike to the caller."""
    user = AdminUser.get_or_none(AdminUser.username == username) if USERNAME.fullmatch(username) else None
    matched = verify_password(user.password_hash if user else _dummy_hash(), password)
    if user is None or not matched or user.disabled:
        return None
    return user
