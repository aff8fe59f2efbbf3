"""Did a test leave sessions open? Ask the server, not the client.

A client can believe it closed a session that the server still holds (a detach instead of a
close, a kill that never arrived). ``SessionLeakCheck`` remembers the live sessions when it is
made and, at the end, lists every session opened since that is still live. Closing is partly
asynchronous on the server (a Glacier2 session ends when its connection closes), so the check
waits a little for stragglers before it reports.
"""

from __future__ import annotations

import time
from typing import Any, Protocol


class _Server(Protocol):
    def sessions(self) -> list[dict[str, Any]]: ...


class SessionLeakCheck:
    """Sessions opened after this object was made, and not closed, are leaks (unless allowed)."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.before = {s["uuid"] for s in server.sessions()}
        self.allowed: set[str] = set()

    def allow(self, session_uuid: str) -> None:
        """A session the test means to leave open (it closes it itself, or it outlives the test)."""
        self.allowed.add(session_uuid)

    def opened(self) -> list[dict[str, Any]]:
        """Live sessions opened since the check began, allowed ones excluded."""
        return [s for s in self.server.sessions() if s["uuid"] not in self.before | self.allowed]

    def leaked(self, settle: float = 3.0) -> list[dict[str, Any]]:
        """``opened()``, after waiting up to ``settle`` seconds for it to become empty."""
        deadline = time.monotonic() + settle
        while True:
            found = self.opened()
            if not found or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)

    def assert_clean(self, settle: float = 3.0) -> None:
        found = self.leaked(settle)
        if found:
            rows = ", ".join(f"{s['user']} (uuid {s['uuid'][:8]}..., refcount {s['refcount']}, "
                             f"agent {s['agent'] or '-'})" for s in found)
            raise AssertionError(f"{len(found)} session(s) left open on the stand-in server: {rows}")
