"""Ports that accept TCP connections and then never answer: for testing timeouts.

``silent_port``: the client connects, then waits for Ice's connection-validation message (or
the TLS handshake) that never comes, until its connect timeout fires; with defaults that is
~30 s for ``BlitzGateway.connect()``.

``hung_router``: a plain-TCP (``tcp://``) Ice peer that validates the connection, so Ice's
connect timeout is satisfied, and then never replies to a request: a router that is up but
stuck. Without a deadline of its own, ``createSession`` waits for it forever.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

ICE_VALIDATE_CONNECTION = b"IceP" + bytes([1, 0, 1, 0, 3, 0]) + struct.pack("<i", 14)
"""Ice protocol 1.0 header of a ValidateConnection message (type 3, 14 bytes, no body)."""


@contextmanager
def hung_router(host: str = "127.0.0.1") -> Iterator[int]:
    """Like ``silent_port``, but greets each connection as an Ice server would, then goes quiet."""
    with silent_port(host, greeting=ICE_VALIDATE_CONNECTION) as port:
        yield port


@contextmanager
def silent_port(host: str = "127.0.0.1", greeting: bytes = b"") -> Iterator[int]:
    """Listen on a free port of ``host``; accept and hold every connection; yield the port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((host, 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            if greeting:
                conn.sendall(greeting)
            held.append(conn)  # never read, never written (after the greeting), never closed until exit

    thread = threading.Thread(target=accept, name="silent-port", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()
