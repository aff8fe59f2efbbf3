"""pytest fixtures for the stand-in OMERO server.

Installing ``omero-profiles-standin`` registers this module as a pytest plugin (a ``pytest11``
entry point), so any project that has it installed gets these fixtures with no import:

- ``omero_server``: one server per test session (SSL, TCP, WS and WSS on free loopback ports,
  the built-in users). Share it; count sessions per user or before/after to stay independent.
- ``start_omero_server``: a factory, ``start_omero_server(users=..., session_timeout=...,
  verbose=...)``, for tests that need their own data or a short timeout; every server it
  starts is stopped at the end of the test.
- ``no_leaked_sessions``: a ``SessionLeakCheck`` on ``omero_server``; the test fails if a
  session it opened is still live at the end (``.allow(uuid)`` exempts one on purpose).
- ``silent_port``: a loopback port that accepts connections and never answers.
- ``hung_router_port``: a loopback ``tcp://`` Ice peer that greets, then never replies.
- ``freezing_proxy``: a factory, ``freezing_proxy(upstream_port, after=N, mode=...)``, for a
  proxy in front of a ``tcp`` port that forwards N Ice requests, then freezes (``"freeze"``:
  forwards nothing more, keeps every socket open), dies (``"close"``: closes every socket and
  its listener) or loses the reply (``"lose-reply"``: forwards request N + 1, then closes the
  clients' side before the reply comes back);
  ``proxy.trip_at_next_request()`` makes it fail from the next request on (after a login, say,
  whose request count a keep-alive ping can change). Every proxy it starts is stopped at the end
  of the test.

A server that cannot start fails the test with the server's stderr; nothing is skipped.
Importing this module does not import Ice or omero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .leaks import SessionLeakCheck
from .process import StandInServer, running_server, start_server
from .proxy import FreezingProxy
from .silent import hung_router as _hung_router
from .silent import silent_port as _silent_port


@pytest.fixture(scope="session")
def omero_server() -> Iterator[StandInServer]:
    """A stand-in OMERO server shared by the whole test session."""
    with running_server() as server:
        yield server


@pytest.fixture
def start_omero_server() -> Iterator[Callable[..., StandInServer]]:
    """Factory for private servers: ``start_omero_server(users=None, session_timeout=600.0, ...)``."""
    started: list[StandInServer] = []

    def start(users: Any = None, **options: Any) -> StandInServer:
        server = start_server(users, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def no_leaked_sessions(omero_server: StandInServer) -> Iterator[SessionLeakCheck]:
    """Fails the test if a session opened on ``omero_server`` during it is still live at its end."""
    check = SessionLeakCheck(omero_server)
    yield check
    check.assert_clean()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A 127.0.0.1 port that accepts TCP connections and never sends a byte."""
    with _silent_port() as port:
        yield port


@pytest.fixture
def hung_router_port() -> Iterator[int]:
    """A 127.0.0.1 port speaking just enough Ice to connect, then never replying (use tcp://)."""
    with _hung_router() as port:
        yield port


@pytest.fixture
def freezing_proxy() -> Iterator[Callable[..., FreezingProxy]]:
    """Factory: ``freezing_proxy(upstream_port, after=N, mode="freeze")`` -> a running ``FreezingProxy``.

    Point a ``tcp://127.0.0.1:{proxy.port}`` client at it; ``proxy.requests``, ``.operations``
    and ``.tripped`` say what it saw. All proxies are stopped (every socket closed) after the test.
    """
    started: list[FreezingProxy] = []

    def start(upstream_port: int, *, after: int, mode: str = "freeze") -> FreezingProxy:
        proxy = FreezingProxy(upstream_port, after=after, mode=mode)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()
