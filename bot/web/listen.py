"""Listening sockets taken before anything else opens, so a port in use is one clear line, not a traceback.

aiohttp binds only after the app's start-up has opened the database, Redis and client sessions; a bind that fails
there leaves them to the garbage collector ("Unclosed client session") and prints the asyncio stack. Binding
first costs nothing and fails before there is anything to close.
"""

from __future__ import annotations

import errno
import socket


class CannotListen(Exception):
    """The address cannot be listened on; the message names it and says why in one line."""


def listen(host: str, port: int, *, reuse_port: bool = False, backlog: int = 128) -> socket.socket:
    """A bound, listening TCP socket for `host:port` (IPv4 or IPv6, as `host` resolves)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        why = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc)).lower()
        raise CannotListen(f"cannot listen on {host}:{port}: {why}") from None
    sock.setblocking(False)
    return sock


def check_free(host: str, port: int, *, reuse_port: bool = False) -> None:
    """Raise `CannotListen` now if `host:port` cannot be listened on (a supervisor, before starting children)."""
    listen(host, port, reuse_port=reuse_port).close()
