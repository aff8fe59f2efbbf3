"""A hard bound on a connect, that returns control to the caller on time, whatever Ice does.

Every Ice call has an invocation timeout (``login.new_client``), but a connect is several calls,
so ``run_bounded`` runs the whole attempt in a worker thread and raises in the caller when the
time is up. The attempt is then abandoned, not waited for: its clients' Ice communicators
(recorded with ``track``) are destroyed in a background thread, which ends their pending calls.
Destroying must not happen in the caller: in Ice 3.6 ``communicator.destroy()`` (and even
``ice_getConnection()`` on another proxy) blocks while a thread is inside
``createObjectAdapterWithRouter`` waiting for the router's ``getServerProxy`` reply, until that
call ends by its own invocation timeout (measured: a server that answered ``createSession``
and then froze made the old, synchronous destroy wait the full call timeout, forever without
one). A result that arrives after the deadline is handed to ``discard`` so no session is left
open.

An interpreter that exits while an abandoned attempt is still inside Ice can abort ("terminate
called without an active exception") or print "communicator not destroyed during global
destruction"; so at exit we wait for the clean-ups, each bounded by its attempt's timeout (the
longest any of its calls can still take) plus a margin.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

CLEANUP_MARGIN = 2.0
"""Seconds a clean-up may take beyond the attempt's timeout (closing connections, ending threads)."""

_clients: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("omeroprofiles_attempt", default=None)
_cleanups: dict[threading.Thread, float] = {}
"""Background clean-ups still running -> the monotonic time by which each must have ended."""
_cleanups_lock = threading.Lock()


class DeadlineExceeded(Exception):
    """The bounded call did not finish in time (its clients are being destroyed)."""


def track(communicator: Any) -> None:
    """Record an Ice communicator created by the current bounded attempt (no-op outside one)."""
    communicators = _clients.get()
    if communicators is not None:
        communicators.append(communicator)


def run_bounded(seconds: float, fn: Callable[[], T], discard: Callable[[T], None]) -> T:
    """``fn()`` within ``seconds``, else DeadlineExceeded. Exceptions of ``fn`` are re-raised.

    Returns or raises within ``seconds`` (plus thread start-up); never waits for the attempt.
    """
    clients: list[Any] = []
    outcome: dict[str, Any] = {}
    lock = threading.Lock()
    late = threading.Event()

    def work() -> None:
        _clients.set(clients)
        try:
            value = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc
            return
        with lock:
            if late.is_set():
                discard(value)
                return
            outcome["value"] = value

    worker = threading.Thread(target=work, name="omero-profiles-connect", daemon=True)
    worker.start()
    try:
        worker.join(seconds)
    except BaseException:  # Ctrl-C while waiting: abandon the attempt, leaving nothing open
        with lock:
            late.set()
        _abandon(worker, clients, seconds)
        raise
    with lock:
        if worker.is_alive():
            late.set()
        elif "error" in outcome:
            raise outcome["error"]
        else:
            return outcome["value"]
    _abandon(worker, clients, seconds)
    raise DeadlineExceeded(f"no answer within {seconds:g} s")


def _abandon(worker: threading.Thread, communicators: list[Any], seconds: float) -> None:
    """Destroy the attempt's communicators and let its worker finish, in the background."""
    must_end_by = time.monotonic() + seconds + CLEANUP_MARGIN

    def clean_up() -> None:
        destroyed = 0
        try:
            while True:  # the worker may still create a client (a second login) before it notices
                for communicator in communicators[destroyed:]:
                    _destroy(communicator)
                    destroyed += 1
                if not worker.is_alive() or time.monotonic() >= must_end_by:
                    break
                worker.join(0.05)
            if worker.is_alive():
                log.debug("an abandoned connect attempt is still running")
        finally:
            with _cleanups_lock:
                _cleanups.pop(threading.current_thread(), None)

    cleaner = threading.Thread(target=clean_up, name="omero-profiles-cleanup", daemon=True)
    with _cleanups_lock:
        _cleanups[cleaner] = must_end_by
    cleaner.start()


def _destroy(communicator: Any) -> None:
    try:
        communicator.destroy()
    except Exception:  # noqa: BLE001 - already destroyed, or never initialised
        log.debug("destroying a timed-out client failed", exc_info=True)


def pending_cleanups() -> int:
    """How many abandoned attempts are still being torn down (for tests and diagnostics)."""
    with _cleanups_lock:
        return len(_cleanups)


@atexit.register
def wait_for_cleanups() -> None:
    """Let abandoned attempts finish tearing down (bounded), so the interpreter exits cleanly."""
    with _cleanups_lock:
        running = list(_cleanups.items())
    for thread, must_end_by in running:
        thread.join(max(0.0, must_end_by - time.monotonic()))
