"""The package layout holds: imports point one way (bot → handlers | scheduler → dialogs → store), the shared
core of the store depends on no domain, and bot/ holds packages, not a drawer of loose modules. Parsed from the
source, so a new upward import fails here before it tangles anything."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RANK = {"store": 0, "dialogs": 1, "handlers": 2, "scheduler": 2, "bot": 3}
"""A package may import its own and lower ranks; handlers and scheduler, side by side, never each other."""


def imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(RANK))
def test_imports_point_one_way(package: str) -> None:
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sources(package)
        for line, module in imports(path)
        if (top := module.split(".")[0]) in RANK and top != package
        and (RANK[top] > RANK[package] or RANK[top] == RANK[package])
    ]
    assert not upward, "imports against the layering:\n" + "\n".join(upward)


def test_the_store_core_depends_on_no_domain() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sources("store/core")
        for line, module in imports(path)
        if module.startswith("store.") and not module.startswith("store.core")
    ]
    assert not found, "\n".join(found)


def test_bot_holds_packages_not_loose_modules() -> None:
    loose = sorted(p.name for p in (ROOT / "bot").glob("*.py") if p.name not in {"__init__.py", "__main__.py"})
    assert not loose, f"modules directly in bot/: {loose}; put each in the package of its role"
    loose_store = sorted(p.name for p in (ROOT / "store").glob("*.py") if p.name != "__init__.py")
    assert not loose_store, f"modules directly in store/: {loose_store}; put each in its domain's package"


def test_the_sandbox_is_not_imported_by_the_shop() -> None:
    """The emulators stand in for WeChat; product code talks to them only over HTTP, as it would to WeChat."""
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for package in ("handlers", "dialogs", "store", "scheduler")
        for path in sources(package)
        for line, module in imports(path)
        if module.startswith("bot.sandbox")
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("package", ["dialogs", "handlers"])
def test_the_conversation_does_not_talk_to_redis(package: str) -> None:
    """The engine's turn is pure: the gateway loads the follower's state and keeps the turn's changes; carts and
    the rest live behind protocols that `bot/` implements. So dialogs/ and handlers/ never import redis."""
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sources(package)
        for line, module in imports(path)
        if module.split(".")[0] == "redis"
    ]
    assert not found, "\n".join(found)
