"""Helpers for tests of sessions: what the server holds, sessions made behind our back, the OMERO CLI.

`omero login`, `omero-profile login`, shared and child sessions outlive the command that made them
(that is their point); tests that make them on the session-wide ``omero_server`` end them
(``end_all``, ``ending_new_sessions``), so tests that count a user's sessions on it see only their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def live(server: Any, user: str = "alice") -> set[str]:
    """Keys of ``user``'s live sessions on the stand-in."""
    return {s["uuid"] for s in server.sessions() if s["user"] == user}


def end_all(server: Any, *users: str) -> None:
    """Close every live session of ``users`` (default alice) on the stand-in."""
    for s in server.sessions():
        if s["user"] in (users or ("alice",)):
            server.close_session(s["uuid"])


def live_session(server: Any, user: str) -> str:
    """A live session of ``user`` made by a plain omero.client and detached, so it outlives its client."""
    import omero

    client = omero.client(host=server.host, port=server.ssl_port)
    client.createSession(user, server.users[user].password)
    client.getSession().detachOnDestroy()
    key = client.getSessionId()
    client.__del__()
    return key


def omero(*args: str) -> None:
    """The real `omero` command line, in-process (the script refuses to run as root)."""
    from omero.cli import CLI

    cli = CLI()
    cli.loadplugins()
    cli.invoke(list(args), strict=True)


def omero_login(server: Any, user: str = "alice") -> None:
    """`omero login` as ``user`` with a password, into the OMERO CLI's store."""
    omero("login", "-s", server.host, "-p", str(server.ssl_port), "-u", user, "-w", server.users[user].password, "-q")


@contextmanager
def ending_new_sessions(server: Any) -> Iterator[None]:
    """End, afterwards, every session made on ``server`` inside the block."""
    before = {s["uuid"] for s in server.sessions()}
    try:
        yield
    finally:
        for session in server.sessions():
            if session["uuid"] not in before:
                server.close_session(session["uuid"])
