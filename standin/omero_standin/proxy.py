"""A fault-injecting TCP proxy for a plain-TCP (``tcp://``) Ice endpoint: a server that stops.

``freezing_proxy(upstream_port, after=N, mode=...)`` listens on a free loopback port and
forwards every connection to ``upstream_port`` (the stand-in's ``tcp`` router), reading the
Ice protocol's framing so that it can count the *requests* clients send (message types 0,
request, and 1, batch request; replies, connection validation and close messages are
forwarded untouched and not counted). The first ``after`` requests go through; when request
``after + 1`` arrives the proxy trips:

- ``mode="freeze"``: nothing more is forwarded in either direction (that request included),
  and no socket is closed: a server that hangs, or a network path that black-holes. Later
  connections are accepted and held silent, as a hung process's kernel still accepts them.
- ``mode="close"``: every client and upstream socket is closed and so is the listener, so new
  connections are refused: a server that dies. The stand-in sees its side close, as it would
  see a real client vanish.
- ``mode="lose-reply"``: that request is forwarded, then every client connection and the
  listener are closed before any reply comes back (the upstream connections stay open, so the
  server finishes the call): a connection lost mid-call, where the call ran but the client
  cannot know it.

Why a proxy and not a server switch: it breaks the *wire*, so the real client meets exactly
what a dying or frozen server shows it (half-finished calls, open sockets that never answer),
and the stand-in behind it keeps its sessions, which tests can then inspect.

One thread runs a selector loop for all sockets; ``stop()`` (or leaving the ``with`` block)
closes everything, which is also when a frozen proxy finally lets the stand-in see its
connections close. Nothing here imports Ice.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

HEADER = struct.Struct("<4sBBBBBBi")
"""Ice message header: magic, protocol major/minor, encoding major/minor, type, compression, size."""
MAGIC = b"IceP"
REQUEST, BATCH_REQUEST = 0, 1
MODES = ("freeze", "close", "lose-reply")


def _read_size(body: bytes, at: int) -> tuple[int, int]:
    """An Ice size: one byte, or 255 followed by an int32."""
    first = body[at]
    if first < 255:
        return first, at + 1
    return struct.unpack_from("<i", body, at + 1)[0], at + 5


def _read_string(body: bytes, at: int) -> tuple[str, int]:
    size, at = _read_size(body, at)
    return body[at:at + size].decode("utf-8", "replace"), at + size


def operation_of(message: bytes) -> str:
    """The operation name of an uncompressed Ice request (for logs and assertions), else "?"."""
    try:
        if message[8] != REQUEST or message[9] == 2:
            return "?"
        at = HEADER.size + 4  # request id
        _, at = _read_string(message, at)  # identity name
        _, at = _read_string(message, at)  # identity category
        facets, at = _read_size(message, at)
        for _ in range(facets):
            _, at = _read_string(message, at)
        return _read_string(message, at)[0]
    except (IndexError, struct.error):
        return "?"


@dataclass(eq=False)
class _Side:
    """One socket of a proxied pair: what was read but not yet framed, and what waits to be sent."""

    sock: socket.socket
    inbox: bytearray = field(default_factory=bytearray)
    outbox: bytearray = field(default_factory=bytearray)
    peer: _Side | None = None
    from_client: bool = False


class FreezingProxy:
    """A running proxy; use ``freezing_proxy(...)``. ``port`` is where clients connect."""

    def __init__(self, upstream_port: int, *, after: int, mode: str = "freeze",
                 host: str = "127.0.0.1", upstream_host: str = "127.0.0.1") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if after < 0:
            raise ValueError("after must be >= 0")
        self.after = after
        self.mode = mode
        self.upstream = (upstream_host, upstream_port)
        self.requests = 0
        """Requests seen from clients, including the one that tripped the proxy (not forwarded)."""
        self.operations: list[str] = []
        """Operation names of the requests seen, in order (the last one was not forwarded if tripped)."""
        self.connections = 0
        self.tripped = threading.Event()
        """Set when request ``after + 1`` arrived and the proxy froze or closed."""
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = socket.create_server((host, 0))
        self._listener.setblocking(False)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._held: list[socket.socket] = []
        self._sides: set[_Side] = set()
        self._stopping = False
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._run, name=f"freezing-proxy-{self.port}", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        state = "tripped" if self.tripped.is_set() else "forwarding"
        return (f"<FreezingProxy :{self.port} -> :{self.upstream[1]} mode={self.mode} after={self.after} "
                f"requests={self.requests} {state}>")

    # -- control --------------------------------------------------------------------------------
    def trip_at_next_request(self) -> None:
        """Trip at the next request, however many went before: "the server stops now".

        Use it instead of counting a login's requests: omero.client's keep-alive thread may send
        one ping right after the login, or not, depending on thread timing, so that count varies.
        """
        with self._lock:
            self.after = self.requests

    def stop(self) -> None:
        """Close every socket and end the loop (idempotent)."""
        with self._lock:
            self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(5)

    # -- the loop -------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._stopping:
                        return
                for key, events in self._selector.select():
                    if key.data == "wake":
                        self._wake_r.recv(64)
                    elif key.data is None:
                        self._accept()
                    else:
                        self._service(key.data, events)
        finally:
            self._close_all()
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _accept(self) -> None:
        if self._listener is None:  # closed by a trip in this round of events
            return
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        self.connections += 1
        if self.tripped.is_set():  # frozen: the kernel accepted it; the "server" never answers
            self._held.append(client)
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        for sock in (client, upstream):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        a, b = _Side(client, from_client=True), _Side(upstream)
        a.peer, b.peer = b, a
        self._sides |= {a, b}
        self._selector.register(client, selectors.EVENT_READ, a)
        self._selector.register(upstream, selectors.EVENT_READ, b)

    def _service(self, side: _Side, events: int) -> None:
        if events & selectors.EVENT_WRITE:
            self._flush(side)
        if events & selectors.EVENT_READ and side in self._sides:
            try:
                data = side.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._drop(side)
                return
            side.inbox += data
            self._forward(side)

    def _forward(self, side: _Side) -> None:
        """Pass whole Ice messages on to the peer, counting requests; trip on request after + 1."""
        assert side.peer is not None
        while side.inbox and side in self._sides and not self.tripped.is_set():
            if len(side.inbox) < HEADER.size:
                if side.inbox[:4] != MAGIC[:len(side.inbox)]:
                    self._send(side.peer, bytes(side.inbox))  # not Ice (e.g. TLS): pass through
                    side.inbox.clear()
                return
            magic, *_, kind, _compression, size = HEADER.unpack_from(side.inbox)
            if magic != MAGIC or size < HEADER.size:
                self._send(side.peer, bytes(side.inbox))
                side.inbox.clear()
                return
            if len(side.inbox) < size:
                return
            message = bytes(side.inbox[:size])
            del side.inbox[:size]
            if side.from_client and kind in (REQUEST, BATCH_REQUEST):
                self.requests += 1
                self.operations.append(operation_of(message))
                if self.requests > self.after:
                    if self.mode == "lose-reply":
                        self._deliver(side.peer, message)
                    self._trip()
                    return
            self._send(side.peer, message)

    def _trip(self) -> None:
        self.tripped.set()
        if self.mode == "close":
            self._close_all()
            return
        if self.mode == "lose-reply":  # clients and listener go; the server keeps its side (until stop())
            self._close_listener()
            for s in list(self._sides):
                self._selector.unregister(s.sock)
                if s.from_client:
                    s.sock.close()
                else:
                    self._held.append(s.sock)
            self._sides.clear()
            return
        for s in list(self._sides):  # freeze: stop reading and writing, keep every socket open
            self._selector.unregister(s.sock)
            self._held.append(s.sock)
        self._sides.clear()

    def _deliver(self, side: _Side, data: bytes) -> None:
        """Send ``data`` (after anything queued) to ``side`` now, waiting until the kernel has it."""
        side.sock.setblocking(True)
        try:
            side.sock.sendall(bytes(side.outbox) + data)
            side.outbox.clear()
        except OSError:
            pass
        finally:
            side.sock.setblocking(False)

    def _send(self, side: _Side, data: bytes) -> None:
        side.outbox += data
        self._flush(side)

    def _flush(self, side: _Side) -> None:
        if side not in self._sides:
            return
        try:
            sent = side.sock.send(side.outbox) if side.outbox else 0
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._drop(side)
            return
        del side.outbox[:sent]
        self._selector.modify(side.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if side.outbox else 0),
                              side)

    def _drop(self, side: _Side) -> None:
        """One end closed: close both ends of the pair (what the peer would see anyway)."""
        for s in (side, side.peer):
            if s is not None and s in self._sides:
                self._sides.discard(s)
                self._selector.unregister(s.sock)
                s.sock.close()

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None

    def _close_all(self) -> None:
        self._close_listener()
        for s in list(self._sides):
            self._selector.unregister(s.sock)
            s.sock.close()
        self._sides.clear()
        for sock in self._held:
            sock.close()
        self._held.clear()


@contextmanager
def freezing_proxy(upstream_port: int, *, after: int, mode: str = "freeze",
                   host: str = "127.0.0.1") -> Iterator[FreezingProxy]:
    """A proxy to ``host:upstream_port`` that forwards ``after`` Ice requests, then freezes or closes.

    Yields the ``FreezingProxy`` (``.port``, ``.requests``, ``.operations``, ``.tripped``);
    point a ``tcp://HOST:PORT`` client at ``.port``. Stopped (every socket closed) on exit.
    """
    proxy = FreezingProxy(upstream_port, after=after, mode=mode, host=host, upstream_host=host)
    try:
        yield proxy
    finally:
        proxy.stop()
