"""Config: defaults, TOML, env overrides, and one clear line for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.process.config import ConfigError, load
from tests.support import ROOT, wxshop


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_repo_config_is_the_documented_defaults() -> None:
    from bot.process.config import Config

    loaded = load(ROOT / "config.toml", env={})
    defaults = Config()
    for section in ("server", "wechat", "pay", "database", "redis", "admin", "logistics", "shop"):
        assert getattr(loaded, section) == getattr(defaults, section), section
    assert loaded.menu, "the shipped config defines a custom menu"


def test_no_file_means_embedded_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load(env={})
    assert config.database.url == "" and config.redis.url == ""
    assert config.var_dir == tmp_path / "var"
    assert config.server.port == 8080


def test_toml_values_are_typed(tmp_path: Path) -> None:
    config = load(write(tmp_path, '[server]\nport = 9001\n[shop]\noperator_openids = ["o1", "o2"]\n'), env={})
    assert config.server.port == 9001
    assert config.shop.operator_openids == ("o1", "o2")


def test_env_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9001\n")
    env = {"WXSHOP_SERVER__PORT": "9002", "WXSHOP_SHOP__OPERATOR_OPENIDS": "a, b", "WXSHOP_SHOP__VIP_DISCOUNT": "0.9"}
    config = load(path, env=env)
    assert config.server.port == 9002
    assert config.shop.operator_openids == ("a", "b")
    assert config.shop.vip_discount == 0.9


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ('[server]\nport = "eighty"\n', {}, "[server] port: expected an integer, got 'eighty'"),
        ("[server]\nport = 70000\n", {}, "[server] port: expected a port number"),
        ("[server]\nprot = 80\n", {}, "[server] prot: unknown key"),
        ("[sever]\nport = 80\n", {}, "[sever]: unknown section"),
        ('[wechat]\nencoding_aes_key = "short"\n', {}, "[wechat] encoding_aes_key: expected 43 letters"),
        ('[wechat]\nmode = "plain"\n', {}, "[wechat] mode: expected safe or compatible, got 'plain'"),
        ("", {"WXSHOP_WECHAT__TIMESTAMP_WINDOW_S": "0"}, "WXSHOP_WECHAT__TIMESTAMP_WINDOW_S: expected 1..3600, got 0"),
        ('[database]\nurl = "mysql://x"\n', {}, "[database] url: expected sqlite"),
        ("[server\n", {}, "not valid TOML"),
        ('[admin]\ntrusted_proxies = ["10.0.0.0/8", "lb.local"]\n', {}, "[admin] trusted_proxies: expected addresses"),
        ("", {"WXSHOP_SERVER__PORT": "x"}, "WXSHOP_SERVER__PORT: expected an integer, got 'x'"),
        ("", {"WXSHOP_NOPE__KEY": "1"}, "WXSHOP_NOPE__KEY: no such section"),
        ("", {"WXSHOP_SHOP__TIER_YEAR": "weekly"}, "WXSHOP_SHOP__TIER_YEAR: expected rolling or calendar"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, text: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text), env=env)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_cli_prints_one_line_and_exits_non_zero(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = -1\n")
    result = wxshop("--config", str(path), "db", "status", env={})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "[server] port" in result.stderr and "Traceback" not in result.stderr


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    result = wxshop("db", "status", "--config", str(tmp_path / "nope.toml"), env={})
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_help_lists_the_commands() -> None:
    result = wxshop("--help", env={})
    assert result.returncode == 0
    for command in ("serve", "worker", "demo", "db"):
        assert command in result.stdout
