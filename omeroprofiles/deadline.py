"""A hard bound on a connect: Ice timeouts cover connecting, not a server that never replies.

A router that accepts the connection and then never answers ``createSession`` would block
omero-py forever (Ice has no invocation timeout by default). ``run_bounded`` runs the connect in
a worker thread; when the time is up it destroys the communicators of the clients the attempt
created (``track`` their Ice communicators), which ends their pending calls, and raises in the
caller. A result that
arrives after the deadline is handed to ``discard`` so no session is left open.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

_clients: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("omeroprofiles_attempt", default=None)


class DeadlineExceeded(Exception):
    """The bounded call did not finish in time (its clients were destroyed)."""


def track(communicator: Any) -> None:
    """Record an Ice communicator created by the current bounded attempt (no-op outside one)."""
    communicators = _clients.get()
    if communicators is not None:
        communicators.append(communicator)


def run_bounded(seconds: float, fn: Callable[[], T], discard: Callable[[T], None]) -> T:
    """``fn()`` within ``seconds``, else DeadlineExceeded. Exceptions of ``fn`` are re-raised."""
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
        _destroy(list(clients))
        raise
    with lock:
        if worker.is_alive():
            late.set()
        elif "error" in outcome:
            raise outcome["error"]
        else:
            return outcome["value"]
    _destroy(list(clients))  # bounded by the clients' close timeout; ends the worker's pending call
    worker.join(1.0)
    raise DeadlineExceeded(f"no answer within {seconds:g} s")


def _destroy(communicators: list[Any]) -> None:
    for communicator in communicators:
        try:
            communicator.destroy()
        except Exception:  # noqa: BLE001 - already destroyed, or never initialised
            log.debug("destroying a timed-out client failed", exc_info=True)
