"""Leave the shared stand-in as it was found: end the sessions a test made on purpose and left open.

`omero login`, `omero-profile login`, shared and child sessions outlive the command that made them
(that is their point); tests that make them on the session-wide ``omero_server`` end them here,
so tests that count a user's sessions on it see only their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def ending_new_sessions(server) -> Iterator[None]:
    before = {s["uuid"] for s in server.sessions()}
    try:
        yield
    finally:
        for session in server.sessions():
            if session["uuid"] not in before:
                server.close_session(session["uuid"])
