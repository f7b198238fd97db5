"""Which address a request came from, when a reverse proxy may stand in front of us.

`X-Forwarded-For` is written by whoever sent the request, so it is believed only when the direct peer is one of
`[admin] trusted_proxies`. Each proxy appends the address it received the request from; reading from the right,
the first address that is not a trusted proxy is the client. Everything left of it was written by the client and
is ignored. With no trusted proxies configured the peer is the client, whatever the header says.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDRs (`10.0.0.5`, `10.0.0.0/8`, `::1`); ValueError names the first that is neither."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def valid_networks(entries: tuple[str, ...]) -> bool:
    try:
        parse_networks(entries)
    except ValueError:
        return False
    return True


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address in network for network in trusted)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: tuple[Network, ...]) -> str:
    """The client's address: the peer, or the right-most untrusted `X-Forwarded-For` hop behind trusted proxies.

    `forwarded_for` is every X-Forwarded-For header of the request (a proxy may add its own header rather than
    extend the first). A hop that is not an address stops the walk at the last proxy we trust, which sent it.
    """
    current = _address(peer)
    if current is None or not _trusted(current, trusted):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        current = address
        if not _trusted(current, trusted):
            break
    return str(current)
