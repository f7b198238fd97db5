"""Operators who sign in to the web console: a username, a scrypt password hash with its own salt, a role
(store.operators.roles), a disabled flag, and whether the password must be changed at the next sign-in (after an
admin reset it).

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
from store.operators.roles import ADMIN, ROLES

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
    role = peewee.CharField(max_length=16, default=ADMIN)  # users made before roles existed could do everything
    must_change_password = peewee.BooleanField(default=False)
    password_changed_at = ShanghaiDateTimeField(null=True)


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


class InvalidRole(AdminUserError):
    pass


class WrongPassword(AdminUserError):
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


def check_password(password: str, username: str = "") -> None:
    """At least 10 characters, not one character repeated, and not the username."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise WeakPassword(f"the password is too short: at least {MIN_PASSWORD_CHARS} characters")
    if len(set(password)) < 4:
        raise WeakPassword("the password is too simple: use at least 4 different characters")
    if username and username.lower() in password.lower():
        raise WeakPassword("the password must not contain the username")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidRole(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")


def user_exists(username: str) -> bool:
    return AdminUser.select().where(AdminUser.username == username).exists()


def create_user(
    username: str, password: str, now: datetime, role: str = ADMIN, must_change_password: bool = False
) -> AdminUser:
    """Race-safe by the unique username: of two concurrent creations one gets `UserExists`."""
    check_username(username)
    check_role(role)
    check_password(password, username)
    hashed = hash_password(password)
    try:
        with write_transaction():
            return AdminUser.create(
                username=username, password_hash=hashed, created_at=now, role=role,
                must_change_password=must_change_password,
            )  # fmt: skip
    except peewee.IntegrityError:
        raise UserExists(f"admin user {username!r} exists already") from None


def find_user(username: str) -> AdminUser:
    user = AdminUser.get_or_none(AdminUser.username == username) if USERNAME.fullmatch(username) else None
    if user is None:
        raise UserNotFound(f"no admin user {username!r}")
    return user


def user_or_none(username: str) -> AdminUser | None:
    return AdminUser.get_or_none(AdminUser.username == username)


def list_users() -> list[AdminUser]:
    return list(AdminUser.select().order_by(AdminUser.username))


def disable_user(username: str, now: datetime) -> bool:
    """Mark the user disabled; False when it was disabled already."""
    with write_transaction():
        user = find_user(username)
        if user.disabled:
            return False
        AdminUser.update(disabled=True, disabled_at=now).where(AdminUser.id == user.id).execute()
    return True


def enable_user(username: str) -> bool:
    """Let a disabled user sign in again; False when it was enabled already."""
    with write_transaction():
        user = find_user(username)
        if not user.disabled:
            return False
        AdminUser.update(disabled=False, disabled_at=None).where(AdminUser.id == user.id).execute()
    return True


def set_role(username: str, role: str) -> bool:
    """Give the user `role`; False when it had it already."""
    check_role(role)
    with write_transaction():
        user = find_user(username)
        if user.role == role:
            return False
        AdminUser.update(role=role).where(AdminUser.id == user.id).execute()
    return True


def reset_password(username: str, password: str, now: datetime) -> None:
    """An admin sets a new password for `username`, who must change it at the next sign-in."""
    check_password(password, username)
    hashed = hash_password(password)
    with write_transaction():
        user = find_user(username)
        AdminUser.update(password_hash=hashed, must_change_password=True, password_changed_at=now).where(
            AdminUser.id == user.id
        ).execute()


def change_password(username: str, old: str, new: str, now: datetime) -> None:
    """The user's own change: the old password is checked, the new one must be strong and different."""
    user = find_user(username)
    if not verify_password(user.password_hash, old):
        raise WrongPassword("the current password is wrong")
    if new == old:
        raise WeakPassword("the new password must differ from the current one")
    check_password(new, username)
    hashed = hash_password(new)
    with write_transaction():
        AdminUser.update(password_hash=hashed, must_change_password=False, password_changed_at=now).where(
            AdminUser.id == user.id
        ).execute()


def authenticate(username: str, password: str) -> AdminUser | None:
    """The enabled user with these credentials, else None. Unknown users, wrong passwords and disabled users cost
    one scrypt each and look alike to the caller."""
    user = AdminUser.get_or_none(AdminUser.username == username) if USERNAME.fullmatch(username) else None
    matched = verify_password(user.password_hash if user else _dummy_hash(), password)
    if user is None or not matched or user.disabled:
        return None
    return user
