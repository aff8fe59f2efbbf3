"""Helpers shared by the Vault plugin's tests (imported by name: this folder is on sys.path)."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pytest
from omeroprofiles import CredentialError, get_conn


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed ``omero-profile`` script as a subprocess, with this test's environment."""
    script = Path(sys.executable).parent / "omero-profile"
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else dict(os.environ), stdin=subprocess.DEVNULL, check=False)


def where(name: str, address: str, path: str, mount: str = "secret", namespace: str | None = None) -> str:
    ns = f", namespace '{namespace}'" if namespace else ""
    return f"profile '{name}': Vault {address}{ns}, mount '{mount}', path '{path}'"


def busy_machine_slack() -> float:
    """Seconds a busy machine adds to these bounds, 0 on an idle one (tests make no absolute time claims).

    Measured now: a start-up of what `omero-profile test` loads before it fetches (Python, the CLI,
    omero-py and Ice, this plugin); on an idle machine about a second. Three of them beyond the 5 s
    the CLI is allowed for its start-up is how far this machine is behind.
    """
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import omeroprofiles.cli, omeroprofiles.connection, omeroprofiles_vault"],
                   check=True, timeout=120)
    return max(0.0, 3 * (time.monotonic() - started) - 5)


def assert_fails(name: str, message: str, hint: str | None, forbidden: list[str], *,
                 max_seconds: float | None = None) -> None:
    """get_conn and the CLI (plain and --debug) fail with exactly this message and hint, exit 4, no secret."""
    forbidden = [s for s in forbidden if s]
    started = time.monotonic()
    with pytest.raises(CredentialError) as info:
        get_conn(name)
    elapsed = time.monotonic() - started
    assert str(info.value) == message
    assert info.value.hint == hint
    assert info.value.exit_code == 4
    chain = exception_texts(info.value)
    for secret in forbidden:
        assert secret not in chain, "a secret is in the exception chain"
    busy = busy_machine_slack() if max_seconds is not None else 0.0
    if max_seconds is not None:
        assert elapsed <= max_seconds + busy, f"get_conn took {elapsed:.1f} s (busy: +{busy:.1f} s)"

    expected = f"omero-profile: error: {message}\n" + (f"omero-profile: hint: {hint}\n" if hint else "")
    started = time.monotonic()
    done = run_cli("test", name)
    elapsed = time.monotonic() - started
    assert (done.returncode, done.stdout, done.stderr) == (4, "", expected)
    if max_seconds is not None:
        assert elapsed <= max_seconds + 5 + busy, f"omero-profile test took {elapsed:.1f} s (busy: +{busy:.1f} s)"
    debug = run_cli("--debug", "test", name)
    assert debug.returncode == 4
    assert debug.stdout == ""
    assert "Traceback (most recent call last)" in debug.stderr and expected in debug.stderr
    for secret in forbidden:
        assert secret not in done.stdout + done.stderr + debug.stdout + debug.stderr, \
            "a secret is in the CLI's output"


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


@dataclass
class Seen:
    """One request an HTTP front received."""

    method: str
    path: str
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)


@dataclass
class Reply:
    """An HTTP answer: status, body and headers (Content-Length is added)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


RawWriter = Callable[[BinaryIO], None]
"""Writes a whole answer, status line included, byte for byte; the connection is closed after it."""
Respond = Callable[[Seen, Callable[[], Reply]], "Reply | RawWriter"]
"""Given a request and a way to get upstream's answer to it, what to send back."""


def forward(seen: Seen, upstream: Callable[[], Reply]) -> Reply:
    """The default: upstream's answer as it is."""
    return upstream()


@contextlib.contextmanager
def http_front(upstream: str | None = None, respond: Respond = forward) -> Iterator[tuple[str, list[Seen]]]:
    """``(http://127.0.0.1:PORT, requests seen)`` of an HTTP server that answers each request with
    ``respond(seen, upstream_answer)``: in front of a real OpenBao (``upstream``, ``http://host:port``)
    it passes answers on, or redirects, rewrites or replaces one of them; without ``upstream`` it is
    a scripted server. Every request is recorded (method, path, headers, body), so a test can show
    what reached an address the token must never be sent to."""
    seen: list[Seen] = []
    stop = threading.Event()

    def ask_upstream(request: Seen) -> Reply:
        if upstream is None:
            raise AssertionError(f"no upstream for {request.method} {request.path}")
        host, port = upstream.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "connection")}
            conn.request(request.method, request.path, body=request.body or None, headers=headers)
            answer = conn.getresponse()
            body = answer.read()
            kept = {k: v for k, v in answer.getheaders()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection")}
            return Reply(answer.status, body, kept)
        finally:
            conn.close()

    def serve(conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader, conn.makefile("wb") as writer:
            try:
                while not stop.is_set():
                    line = reader.readline(65537)
                    if not line.strip():
                        return
                    method, path, _ = line.decode("latin-1").split(" ", 2)
                    message = http.client.parse_headers(reader)
                    body = reader.read(int(message.get("Content-Length") or 0))
                    request = Seen(method, path, dict(message.items()), body)
                    seen.append(request)
                    answer = respond(request, lambda request=request: ask_upstream(request))
                    if not isinstance(answer, Reply):
                        answer(writer)
                        writer.flush()
                        return
                    head = [f"HTTP/1.1 {answer.status} {http.client.responses.get(answer.status, 'Status')}",
                            *(f"{k}: {v}" for k, v in answer.headers.items()),
                            f"Content-Length: {len(answer.body)}"]
                    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + answer.body)
                    writer.flush()
            except (OSError, ValueError):
                return

    with _serving(stop, lambda conn: threading.Thread(target=serve, args=(conn,), daemon=True).start()) as url:
        yield url, seen


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
