"""Loopback ports for the servers tests and benchmarks start beside each other (shop, sandbox, echo bot)."""

from __future__ import annotations

import random
import socket
from pathlib import Path


def _ephemeral_ports() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, never handed out before in this run, and outside the kernel's
    ephemeral range. A port from bind(0) is ephemeral: between its close and our server's bind, an outgoing
    connection (to Redis, PostgreSQL, the sandbox) may take it as its local port and the bind fails (a CI run
    failed on exactly that). Ports below the range are never given to outgoing connections."""
    low, high = _ephemeral_ports()
    lo, hi = (10000, low) if low > 11000 else (high + 1, 65536)
    for _ in range(500):
        port = random.randrange(lo, hi)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {lo}..{hi - 1}")
