"""`serve` and `worker` refuse to start while a secret config.toml publishes would sign real traffic: anyone who
read the repository could sign a pay notice. Against the sandbox the shipped values are what the demo runs on."""

from __future__ import annotations

import pytest

from bot.process.config import Config, load
from bot.process.published_secrets import on_this_machine, published_in_use
from tests.gateway_support import AES_KEY
from tests.support import wxshop

REAL_PAY = {"WXSHOP_PAY__API_BASE_URL": "https://api.mch.weixin.qq.com"}


@pytest.mark.parametrize("command", [("serve",), ("worker", "--burst")])
def test_the_shipped_pay_key_against_real_wechat_pay_stops_the_process(
    env: dict[str, str], command: tuple[str, ...]
) -> None:
    result = wxshop(*command, env={**env, **REAL_PAY})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "wxshop: refusing to start: pay.api_key still a value this repository publishes while talking to a real "
        "endpoint; set your own (e.g. WXSHOP_PAY__API_KEY) or point the endpoint at the sandbox"
    ]


def test_every_shipped_secret_of_a_real_endpoint_is_named(config: Config, tmp_path) -> None:
    real = {
        **REAL_PAY,
        "WXSHOP_WECHAT__API_BASE_URL": "https://api.weixin.qq.com",
        "WXSHOP_LOGISTICS__API_BASE_URL": "https://poll.kuaidi100.com",
    }
    shipped = load(tmp_path / "config.toml", env=real)
    assert published_in_use(shipped) == [
        "wechat.app_secret", "wechat.token", "pay.api_key", "logistics.key", "logistics.salt",
    ]  # fmt: skip
    own = load(
        tmp_path / "config.toml",
        env={
            **real,
            "WXSHOP_WECHAT__APP_SECRET": "a-secret-of-our-own-000000000000",
            "WXSHOP_WECHAT__TOKEN": "owntoken123",
            "WXSHOP_PAY__API_KEY": "k" * 32,
            "WXSHOP_LOGISTICS__KEY": "own-key",
            "WXSHOP_LOGISTICS__SALT": "own-salt",
        },
    )
    assert published_in_use(own) == []


def test_the_sandbox_on_this_machine_runs_on_the_shipped_values(config: Config) -> None:
    assert published_in_use(config) == []  # the test config talks to loopback endpoints
    assert on_this_machine("http://127.0.0.1:8081") and on_this_machine("http://localhost:9")
    assert on_this_machine("http://[::1]:8081")
    assert not on_this_machine("https://api.weixin.qq.com") and not on_this_machine("http://10.0.0.5:8081")


def test_the_aes_key_the_repository_runs_safe_mode_with_is_refused_too(env: dict[str, str]) -> None:
    """No AES key is shipped, but the tests and the inbound benchmark publish one; copied, it stops the serve."""
    own = {
        "WXSHOP_WECHAT__API_BASE_URL": "https://api.weixin.qq.com",
        "WXSHOP_WECHAT__APP_SECRET": "a-secret-of-our-own-000000000000",
        "WXSHOP_WECHAT__TOKEN": "owntoken123",
        "WXSHOP_WECHAT__ENCODING_AES_KEY": AES_KEY,
    }
    result = wxshop("serve", env={**env, **own})
    assert result.returncode == 2
    assert result.stderr.startswith("wxshop: refusing to start: wechat.encoding_aes_key still a value this repository")
    mine = wxshop("worker", "--burst", env={**env, **own, "WXSHOP_WECHAT__ENCODING_AES_KEY": "k" * 43})
    assert "refusing to start" not in mine.stderr
