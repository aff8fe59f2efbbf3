"""Helpers shared by the Vault plugin's tests (imported by name: this folder is on sys.path)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed ``omero-profile`` script as a subprocess, with this test's environment."""
    script = Path(sys.executable).parent / "omero-profile"
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else dict(os.environ), stdin=subprocess.DEVNULL, check=False)


def exception_texts(exc: BaseException) -> str:
    """Everything an exception chain can show: each link's str, repr and formatted traceback."""
    texts = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), "".join(traceback.format_exception(current))]
        texts += [repr(vars(current))]
        current = current.__cause__ or current.__context__
    return "\n".join(texts)


@contextlib.contextmanager
def trickling_http_server(interval: float = 0.2) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a server that reads a request, then answers one byte every
    ``interval`` seconds, for ever: each wait for data is short (so requests' timeout never fires),
    the answer never ends. A slow or hostile endpoint, as a man-in-the-middle or a stuck proxy is."""
    stop = threading.Event()
    endless = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60000

    def trickle(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                for byte in endless:
                    if stop.wait(interval):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return

    with _serving(stop, lambda conn: threading.Thread(target=trickle, args=(conn,), daemon=True).start()) as url:
        yield url


@contextlib.contextmanager
def delaying_proxy(upstream: str, slow_path: bytes, delay: float) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` forwarding to ``upstream`` (``http://host:port``) byte for byte,
    but holding any request that names ``slow_path`` for ``delay`` seconds: a Vault that is slow
    for one secret and quick for everything else (the AppRole login, the token revocation)."""
    host, port = upstream.removeprefix("http://").rsplit(":", 1)
    stop = threading.Event()

    def pump(source: socket.socket, sink: socket.socket, slow: bool) -> None:
        try:
            while not stop.is_set():
                data = source.recv(65536)
                if not data:
                    break
                if slow and slow_path in data and stop.wait(delay):
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def forward(client: socket.socket) -> None:
        server = socket.create_connection((host, int(port)))
        threading.Thread(target=pump, args=(client, server, True), daemon=True).start()
        threading.Thread(target=pump, args=(server, client, False), daemon=True).start()

    with _serving(stop, forward) as url:
        yield url


@contextlib.contextmanager
def _serving(stop: threading.Event, handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A loopback listener whose every accepted connection goes to ``handle``, until ``stop``."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            handle(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        listener.close()
