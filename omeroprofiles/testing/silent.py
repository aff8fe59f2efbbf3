"""A port that accepts TCP connections and never answers: for testing connect timeouts.

The omero-py client connects, then waits for Ice's connection-validation message (or the
TLS handshake) that never comes, until its connect timeout fires; with defaults that is
~30 s for ``BlitzGateway.connect()``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def silent_port(host: str = "127.0.0.1") -> Iterator[int]:
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
            held.append(conn)  # never read, never written, never closed until exit

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
