"""A thread-safe pool of profile connections for web apps and worker threads.

A BlitzGateway must not be used by two threads at once; the pool lends each connection to one
borrower at a time, opens connections lazily up to ``size``, checks a connection is alive
before lending it, and replaces dead ones (expired session, server restart).

    pool = ConnectionPool("prod", size=8)
    with pool.connection() as conn:
        conn.getObject("Image", 1)
    pool.close()
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .api import load_profile

if TYPE_CHECKING:
    from .gateway import ProfileGateway

log = logging.getLogger(__name__)


class PoolClosed(RuntimeError):
    """The pool was closed; no more connections are lent."""


class ConnectionPool:
    def __init__(self, name: str | None = None, *, size: int = 4, borrow_timeout: float | None = 60.0,
                 config_file: str | None = None, **overrides: Any) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.profile = load_profile(name, config_file=config_file, **overrides)
        self.size = size
        self.borrow_timeout = borrow_timeout
        self._idle: queue.LifoQueue[ProfileGateway] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._open = 0
        self._all: set[ProfileGateway] = set()
        self._closed = False
        self._slots = threading.BoundedSemaphore(size)
        self.replaced = 0

    def __repr__(self) -> str:
        return f"<ConnectionPool profile={self.profile.name!r} size={self.size} open={self._open}>"

    @contextlib.contextmanager
    def connection(self) -> Iterator[ProfileGateway]:
        """Borrow a connected gateway for the duration of the block."""
        conn = self.acquire()
        try:
            yield conn
        finally:
            self.release(conn)

    def acquire(self) -> ProfileGateway:
        if self._closed:
            raise PoolClosed("the connection pool is closed")
        if not self._slots.acquire(timeout=self.borrow_timeout if self.borrow_timeout is not None else -1):
            raise TimeoutError(f"no connection free within {self.borrow_timeout} s (pool size {self.size})")
        try:
            while True:
                try:
                    conn = self._idle.get_nowait()
                except queue.Empty:
                    return self._new()
                if self._alive(conn):
                    return conn
                self._discard(conn)
                self.replaced += 1
        except BaseException:
            self._slots.release()
            raise

    def release(self, conn: ProfileGateway) -> None:
        """Return a borrowed connection (closed instead if the pool is closed or the conn is dead)."""
        try:
            if self._closed or not conn.isConnected():
                self._discard(conn)
            else:
                self._idle.put(conn)
        finally:
            self._slots.release()

    def close(self) -> None:
        """Close every connection; borrowed ones are closed when they are returned."""
        self._closed = True
        while True:
            try:
                self._discard(self._idle.get_nowait())
            except queue.Empty:
                break

    def __enter__(self) -> ConnectionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def open_connections(self) -> int:
        return self._open

    def _new(self) -> ProfileGateway:
        from .connection import open_connection

        conn = open_connection(self.profile)
        with self._lock:
            self._open += 1
            self._all.add(conn)
        return conn

    def _discard(self, conn: ProfileGateway) -> None:
        with self._lock:
            if conn in self._all:
                self._all.discard(conn)
                self._open -= 1
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - a dead connection may fail to close
            log.debug("closing a pooled connection failed", exc_info=True)

    @staticmethod
    def _alive(conn: ProfileGateway) -> bool:
        try:
            conn.probe()
            return True
        except Exception:  # noqa: BLE001 - any failure means the session is not usable
            return False
