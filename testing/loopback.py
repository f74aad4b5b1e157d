"""Helpers for test servers on 127.0.0.1: a free port, waiting until it accepts, `git daemon`, a remote that
never answers."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10) -> None:
    """Return once something accepts on the port; a server that never comes up fails the test here."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing accepted on 127.0.0.1:{port} within {timeout:g} s")


def serve_git(repo: Path, base: Path, name: str,
              port: int | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    """A bare copy of `repo` behind `git daemon` on a loopback port (free, unless the caller already chose
    one): (its git:// URL, the daemon)."""
    base.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(base / name)], check=True)
    port = port or free_port()
    daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
                               f"--port={port}", f"--base-path={base}", str(base)], stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return f"git://127.0.0.1:{port}/{name}", daemon


@contextlib.contextmanager
def silent_http_remote() -> Iterator[str]:
    """An HTTP URL whose server accepts connections and never answers: a clone or fetch that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/repo.git"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
