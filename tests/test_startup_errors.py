"""A command that cannot take its port, reach its database or Redis, or read its config says so in one line on
stderr and exits non-zero: no traceback, no warnings from half-opened clients."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.ports import free_port
from tests.support import wxshop

UNREACHABLE_DATABASE = "postgresql://postgres@127.0.0.1:1/x"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another process listens on."""
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        yield port


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "Unclosed" not in stderr
    return lines[0]


@pytest.mark.parametrize("args", [("serve",), ("serve", "--workers", "2")])
def test_serve_on_a_port_in_use(env: dict[str, str], taken_port: int, args: tuple[str, ...]) -> None:
    result = wxshop(*args, env={**env, "WXSHOP_SERVER__PORT": str(taken_port)})
    assert result.returncode == 1
    assert one_line(result.stderr) == f"wxshop: cannot listen on 127.0.0.1:{taken_port}: address already in use"


def test_a_second_demo_stops_before_touching_anything(env: dict[str, str], taken_port: int) -> None:
    sandbox = free_port()
    result = wxshop(
        "demo",
        env={
            **env,
            "WXSHOP_SERVER__PORT": str(taken_port),
            "WXSHOP_WECHAT__API_BASE_URL": f"http://127.0.0.1:{sandbox}",
        },
    )
    assert result.returncode == 1
    assert one_line(result.stderr) == f"wxshop: cannot listen on 127.0.0.1:{taken_port}: address already in use"
    assert result.stdout == "", "nothing was seeded"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", sandbox))  # the sandbox's port was given back


def test_demo_when_the_sandbox_port_is_in_use(env: dict[str, str], taken_port: int) -> None:
    result = wxshop(
        "demo",
        env={**env, "WXSHOP_SERVER__PORT": str(free_port()),
             "WXSHOP_WECHAT__API_BASE_URL": f"http://127.0.0.1:{taken_port}"},
    )  # fmt: skip
    assert result.returncode == 1
    assert one_line(result.stderr) == f"wxshop: cannot listen on 127.0.0.1:{taken_port}: address already in use"


@pytest.mark.parametrize("command", ["serve", "worker", "demo", "keywords list"])
def test_unreachable_database(env: dict[str, str], command: str) -> None:
    ports = {"WXSHOP_SERVER__PORT": str(free_port()), "WXSHOP_WECHAT__API_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    result = wxshop(*command.split(), env={**env, **ports, "WXSHOP_DATABASE__URL": UNREACHABLE_DATABASE})
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("wxshop: database unavailable: ") and '"127.0.0.1", port 1' in line, line


@pytest.mark.parametrize("command", ["serve", "worker", "demo"])
def test_unreachable_redis(env: dict[str, str], command: str) -> None:
    ports = {"WXSHOP_SERVER__PORT": str(free_port()), "WXSHOP_WECHAT__API_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    result = wxshop(command, env={**env, **ports, "WXSHOP_REDIS__URL": UNREACHABLE_REDIS}, timeout=30)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("wxshop: redis unavailable: ") and "127.0.0.1:1" in line, line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[server\n", "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 8)"),
        ('[server]\nport = "x"\n', "[server] port: expected an integer, got 'x'"),
    ],
)
@pytest.mark.parametrize("command", ["serve", "worker", "demo"])
def test_a_config_that_cannot_be_read(
    env: dict[str, str], tmp_path: Path, command: str, text: str, expected: str
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    result = wxshop("--config", str(path), command, env=env)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("wxshop: config: ") and line.endswith(expected), line


def test_a_missing_config_file(env: dict[str, str], tmp_path: Path) -> None:
    result = wxshop("--config", str(tmp_path / "nowhere.toml"), "serve", env=env)
    assert result.returncode == 2
    assert one_line(result.stderr) == f"wxshop: config: {tmp_path / 'nowhere.toml'}: no such file"
