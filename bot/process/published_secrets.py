"""Secrets this repository publishes (config.toml's sandbox values, the AES key its tests and benchmark run safe
mode with) must never sign real traffic.

With `[pay] api_key` still the shipped value and `[pay] api_base_url` pointing at WeChat Pay, anyone who has read
this repository can sign a valid `/pay/notify`; the same holds for the callback token, the app secret and the
courier's push salt. `serve` and `worker` refuse to start then (exit 2, one line naming the keys). Against the
sandbox (an endpoint on this machine), the shipped values are what makes `make demo` work, and are fine.
"""

from __future__ import annotations

import ipaddress
from dataclasses import fields
from urllib.parse import urlparse

from bot.process.config import Config, LogisticsConfig, PayConfig, WechatConfig

# (section, its shipped defaults, the endpoint key that says whether it talks to the sandbox, the secret keys)
_SECRETS: tuple[tuple[str, object, str, tuple[str, ...]], ...] = (
    ("wechat", WechatConfig(), "api_base_url",
     ("app_secret", "token", "encoding_aes_key", "previous_encoding_aes_key")),
    ("pay", PayConfig(), "api_base_url", ("api_key",)),
    ("logistics", LogisticsConfig(), "api_base_url", ("key", "salt")),
)  # fmt: skip


def on_this_machine(url: str) -> bool:
    """A loopback endpoint: the sandbox (or a tunnel an operator set up on purpose), never WeChat itself."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Values published elsewhere in the repository that a deployment might copy: the EncodingAESKey the inbound
# benchmark and the tests run safe mode with (an AES key has no shipped default).
_DEMO_VALUES: dict[str, frozenset[str]] = {
    "encoding_aes_key": frozenset({"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}),
    "previous_encoding_aes_key": frozenset({"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}),
}


def published_in_use(config: Config) -> list[str]:
    """`section.key` of every secret still at its shipped value while its section talks to a real endpoint."""
    found = []
    for section, shipped, endpoint_key, keys in _SECRETS:
        settings = getattr(config, section)
        if on_this_machine(getattr(settings, endpoint_key)):
            continue
        known = {f.name for f in fields(settings)}  # type: ignore[arg-type]
        for key in keys:
            value = getattr(settings, key) if key in known else ""
            if value and (value == getattr(shipped, key) or value in _DEMO_VALUES.get(key, ())):
                found.append(f"{section}.{key}")
    return found


def refusal(config: Config) -> str | None:
    """The one line `serve` and `worker` print before exiting 2, or None when nothing published is in use."""
    keys = published_in_use(config)
    if not keys:
        return None
    return (
        f"refusing to start: {', '.join(keys)} still a value this repository publishes while talking to a real "
        "endpoint; set your own (e.g. WXSHOP_PAY__API_KEY) or point the endpoint at the sandbox"
    )
