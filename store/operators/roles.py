"""The console's roles, weakest first: a viewer (只读) reads, an operator runs the shop, an admin also manages
accounts. A role may do whatever the roles before it may."""

from __future__ import annotations

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
ROLES: tuple[str, ...] = (VIEWER, OPERATOR, ADMIN)
ROLE_NAMES = {VIEWER: "只读", OPERATOR: "运营", ADMIN: "管理员"}


def allows(role: str, needed: str) -> bool:
    """Whether `role` is at least `needed`; an unknown role is allowed nothing."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)
