"""A server that freezes or dies, through the real client: every fault bounded and classified.

The stand-in's ``freezing_proxy`` sits between the client (a ``tcp://`` profile) and the
stand-in's TCP router, forwards the first N Ice requests, then freezes (forwards nothing more,
keeps its sockets open) or dies (closes every socket and its listener). Each case runs what
``omero-profile test`` / ``groups`` run (connect, ask, close; ``cli_sessions._ask``) and checks what the
issue asks: a classified exit code (5, or 0 when the question was already answered), within
``timeout + 2`` seconds (more on a busy machine: the slack grows with a fault-free baseline run in
the same test, see timing_helpers), and no session left that we could have closed.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import Ice
import pytest
from omero_standin import FreezingProxy, SessionLeakCheck
from omero_standin.proxy import HEADER, operation_of
from timing_helpers import Pace

from omeroprofiles import ProfileError, ServerUnreachable, connect, get_conn, load_profile
from omeroprofiles.connection import answer, ask
from omeroprofiles.deadline import CLEANUP_MARGIN, pending_cleanups
from omeroprofiles.login import CLOSE_CALL_MS, CLOSE_TIMEOUT_MS
from omeroprofiles.report import describe, groups

TIMEOUT = 3.0
SLACK = 2.0
"""The issue's bound for one command is the profile timeout plus two seconds (on an idle machine)."""
CLOSE_LIMIT = (CLOSE_CALL_MS + CLOSE_TIMEOUT_MS) / 1000
"""What closing a connection to a frozen server may cost: one bounded call, then a bounded close."""
PASSWORD = "fault-pw"
LOTS = 10**6  # "forward everything": the test trips the proxy itself, at the moment it means
QUESTIONS = {"test": describe, "groups": groups}
MODES = ("freeze", "close")
NS = range(1, 21)
CLOSING = "getSessionService"
"""The first request of closing (the kill): a trip from here on comes after the question's answer."""


def _name(command: str, mode: str, n: int) -> str:
    return f"{command}-{mode}-{n}"


def _users(names: list[str]) -> dict:
    return {"groups": {"lab": {"permissions": "rwr---"}},
            "users": {name: {"password": PASSWORD, "groups": ["lab"]} for name in names}}


def _profile_text(name: str, port: int, user: str | None = None, **extra: object) -> str:
    lines = [f"[profiles.{name}]", f'host = "tcp://127.0.0.1:{port}"', f"timeout = {TIMEOUT:g}",
             f'credentials = {{ source = "plain", username = "{user or name}", password = "{PASSWORD}" }}']
    lines += [f"{key} = {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n\n"


@dataclass
class Outcome:
    code: int
    seconds: float
    message: str


def _like_the_cli(name: str, question) -> Outcome:
    """What ``omero-profile test/groups NAME`` does (cli_sessions._ask), with the exit code it would give."""
    profile = load_profile(name)
    started = time.monotonic()
    try:
        answer(profile, question)
        code, message = 0, ""
    except ProfileError as exc:
        code, message = exc.exit_code, str(exc)
    except Exception as exc:  # noqa: BLE001 - exit 1: what the CLI calls a bug
        code, message = 1, repr(exc)
    return Outcome(code, time.monotonic() - started, message)


def _in_threads(fn, items: list, *, workers: int, bound: float = TIMEOUT + SLACK) -> dict:
    """``fn(item)`` for every item, ``workers`` at a time, in daemon threads.

    Not a ThreadPoolExecutor: its threads are joined at exit, so a case that hangs (the bug
    these tests guard against) would hang the test run instead of failing it. ``bound`` is one
    case's bound; all of them get ten times their share of it (a hang guard, not a speed claim).
    """
    results: dict = {}
    slots = threading.Semaphore(workers)

    def run(item) -> None:
        with slots:
            try:
                results[item] = fn(item)
            except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertions
                results[item] = exc

    threads = [threading.Thread(target=run, args=(item,), daemon=True) for item in items]
    for thread in threads:
        thread.start()
    patience = 10 * bound * (len(items) / workers + 1)
    limit = time.monotonic() + patience
    for thread in threads:
        thread.join(max(0.0, limit - time.monotonic()))
    hung = [item for item in items if item not in results]
    assert not hung, f"still running after {patience:.0f} s: {hung}"
    return results


def _baseline(pace: Pace, names: list[str], *, workers: int) -> None:
    """Record the slowest fault-free run of the same question for ``names`` (profiles straight to the
    server), run as many at a time as the cases: what the work around a timeout costs here, now."""
    outcomes = _in_threads(lambda name: _like_the_cli(name, describe), names, workers=workers)
    assert {out.code for out in outcomes.values()} == {0}, outcomes
    pace.record(max(out.seconds for out in outcomes.values()))


def _frozen_before_answer(proxy: FreezingProxy) -> bool:
    """True if the proxy tripped before the client started closing (so the question had no answer)."""
    return proxy.tripped.is_set() and CLOSING not in proxy.operations[:proxy.after + 1]


def _expected_codes(proxy: FreezingProxy) -> set[int]:
    """5 if the question had no answer, else 0; either, when the request that tripped the proxy was the
    keep-alive thread's ping: sent on its own schedule, it may overtake the question's last reply
    (which is then lost with the connection, or not), so the outcome is a race that either side may win."""
    if proxy.tripped.is_set() and proxy.operations[proxy.after:proxy.after + 1] == ["keepAlive"]:
        return {0, 5}
    return {5} if _frozen_before_answer(proxy) else {0}


def _created_not_killed(proxy: FreezingProxy) -> bool:
    """The server got our login (createSession) but never our kill (ISession.closeSession)."""
    forwarded = proxy.operations[:proxy.after]
    return "createSession" in forwarded and "closeSession" not in forwarded


# -- the matrix ------------------------------------------------------------------------------------
def test_every_n_freezing_or_dying_ends_classified_within_the_timeout(start_omero_server, freezing_proxy,
                                                                      user_file):
    """N = 1..20 requests, then freeze or die, for `test` and `groups`: 80 cases, 10 at a time."""
    cases = [(command, mode, n) for command in QUESTIONS for mode in MODES for n in NS]
    server = start_omero_server(users=_users([_name(*case) for case in cases]))
    leaks = SessionLeakCheck(server)
    proxies = {case: freezing_proxy(server.tcp_port, after=case[2], mode=case[1]) for case in cases}
    user_file.parent.mkdir(parents=True, exist_ok=True)
    direct = [f"direct-{i}" for i in range(10)]
    user_file.write_text("".join(_profile_text(_name(*case), proxies[case].port) for case in cases) +
                         "".join(_profile_text(name, server.tcp_port, user=_name(*cases[i]))
                                 for i, name in enumerate(direct)))
    pace = Pace()
    _baseline(pace, direct, workers=10)

    outcomes = _in_threads(lambda case: _like_the_cli(_name(*case), QUESTIONS[case[0]]), cases, workers=10,
                           bound=pace.bound(TIMEOUT, SLACK))

    _baseline(pace, direct, workers=10)  # again: the machine may have got busier meanwhile
    bound = pace.bound(TIMEOUT, SLACK)
    problems = []
    for case, out in outcomes.items():
        proxy = proxies[case]
        expected = _expected_codes(proxy)
        if out.code not in expected or out.seconds > bound or PASSWORD in out.message:
            problems.append(f"{_name(*case)}: exit {out.code} (expected {expected}) in {out.seconds:.2f} s "
                            f"(bound {bound:.2f} s) after {proxy.operations}: {out.message}")
    assert not problems, "\n".join(problems)
    assert all(proxies[c].tripped.is_set() for c in cases if c[2] <= 10)  # the faults really happened
    assert {out.code for out in outcomes.values()} == {0, 5}

    # While the proxies are frozen, the server still holds exactly the sessions whose kill never
    # reached it: created (createSession forwarded) and not killed (closeSession not forwarded).
    # Dead proxies closed their sockets, so the server ended those sessions (close-on-destroy).
    expected_live = {_name(*c) for c in cases if c[1] == "freeze" and _created_not_killed(proxies[c])}
    assert expected_live  # the freeze cases do leave some: the check below is not vacuous
    deadline = time.monotonic() + 30  # a hang guard: the server ends them as soon as it sees the close
    while True:
        live = {s["user"]: s for s in server.sessions()}
        if set(live) == expected_live or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert set(live) == expected_live
    assert all(s["refcount"] == 1 for s in live.values())  # held by the one frozen connection each

    for proxy in proxies.values():  # the frozen connections finally close: those sessions end too
        proxy.stop()
    leaks.assert_clean(settle=5)
    _assert_no_attempt_left_running()


def _assert_no_attempt_left_running() -> None:
    """Abandoned connect attempts finish tearing down on their own (each gives up by its own bound,
    TIMEOUT + CLEANUP_MARGIN after its deadline; the wait here is a hang guard, not a speed claim)."""
    deadline = time.monotonic() + 10 * (TIMEOUT + CLEANUP_MARGIN)
    while pending_cleanups() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pending_cleanups() == 0
    assert not [t for t in threading.enumerate() if t.name == "omero-profiles-connect" and t.is_alive()]


# -- the three reports, one by one ----------------------------------------------------------
def test_a_router_that_freezes_after_create_session_is_exit_5_in_time(start_omero_server, freezing_proxy,
                                                                     user_file):
    """createSession answered, getServerProxy never (N = 1..3): the caller must not wait for Ice's
    destroy(), which blocks while the login sits in createObjectAdapterWithRouter."""
    ns = (1, 2, 3)
    server = start_omero_server(users=_users([f"u{n}" for n in ns]))
    proxies = {n: freezing_proxy(server.tcp_port, after=n) for n in ns}
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text("".join(_profile_text(f"p{n}", proxies[n].port, user=f"u{n}") for n in ns) +
                         "".join(_profile_text(f"direct-{n}", server.tcp_port, user=f"u{n}") for n in ns))
    pace = Pace()
    _baseline(pace, [f"direct-{n}" for n in ns], workers=len(ns))

    def attempt(n: int) -> tuple[str, float]:
        started = time.monotonic()
        try:
            get_conn(f"p{n}")
        except ServerUnreachable as exc:
            return str(exc), time.monotonic() - started
        return "connected", time.monotonic() - started

    results = _in_threads(attempt, list(ns), workers=len(ns))
    for n, (message, seconds) in results.items():
        assert f"no answer within {TIMEOUT:g} s" in message, (n, message)
        pace.check(seconds, TIMEOUT, idle_slack=0.5, what=f"p{n}")
        assert proxies[n].operations[0] == "createSession"
        assert proxies[n].operations[n] in ("getServerProxy", "getClientProxy")  # in createObjectAdapterWithRouter
    _assert_no_attempt_left_running()


def test_calls_after_login_keepalive_and_close_are_bounded(start_omero_server, freezing_proxy, user_file):
    """A server that freezes right after the login: a user's call and the keep-alive ping end at the
    profile's call_timeout, close() within about a second."""
    server = start_omero_server(users=_users(["u"]))
    leaks = SessionLeakCheck(server)
    proxy = freezing_proxy(server.tcp_port, after=LOTS)
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text(_profile_text("p", proxy.port, user="u"))
    call_timeout = 1.5
    pace = Pace()
    conn = pace.measure(lambda: get_conn("p", call_timeout=call_timeout))  # a whole connect, here and now
    assert not proxy.tripped.is_set()
    proxy.trip_at_next_request()  # the server freezes now

    def timed(call) -> tuple[BaseException | None, float]:
        started = time.monotonic()
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - returned for the assertions
            return exc, time.monotonic() - started
        return None, time.monotonic() - started

    calls = {"user": conn.getEventContext,  # omero-py's own API: the Ice exception, after the timeout
             "keepalive": lambda: conn.c.sf.keepAlive(None)}  # what omero.client's keep-alive thread calls
    for name, call in calls.items():
        error, seconds = _in_threads(timed, [call], workers=1)[call]
        assert isinstance(error, Ice.TimeoutException), (name, error)
        assert call_timeout - 0.1 < seconds, (name, seconds)
        pace.check(seconds, call_timeout, idle_slack=1, what=name)
    assert proxy.tripped.is_set()
    error, seconds = _in_threads(timed, [conn.close], workers=1)[conn.close]
    assert error is None
    pace.check(seconds, CLOSE_LIMIT, idle_slack=1.5 - CLOSE_LIMIT, what="close()")
    assert not conn.isConnected() and conn.c is None
    assert server.session_count("u") == 1  # the kill could not get through: the frozen connection holds it
    proxy.stop()
    leaks.assert_clean(settle=5)  # once that connection closes, the server ends it


def test_a_server_that_dies_after_login_is_exit_5_not_a_bug(start_omero_server, freezing_proxy, user_file):
    """The proxy closes every socket at the first call after login: ConnectionLost/Refused, classified."""
    server = start_omero_server(users=_users(["u"]))
    leaks = SessionLeakCheck(server)
    proxy = freezing_proxy(server.tcp_port, after=LOTS, mode="close")
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text(_profile_text("p", proxy.port, user="u"))
    pace = Pace()
    conn = pace.measure(lambda: get_conn("p"))
    proxy.trip_at_next_request()  # the server dies now
    with pytest.raises(ServerUnreachable, match="connection to the server was lost") as info:
        ask(conn, describe)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no Ice text (session key)
    started = time.monotonic()
    conn.close()
    pace.check(time.monotonic() - started, CLOSE_LIMIT, idle_slack=1.0 - CLOSE_LIMIT, what="close()")
    leaks.assert_clean(settle=5)  # the server saw the connection close and ended our session


# -- reconnect=True: what is repeated, and how often ---------------------------------------------------
def test_a_call_whose_reply_was_lost_is_not_repeated(start_omero_server, freezing_proxy, user_file):
    """The connection drops after the server ran the call, before its reply: the call's fate is
    unknown to the client, so reconnect=True must not run it again (it is not idempotent)."""
    server = start_omero_server(users=_users(["u"]))
    proxy = freezing_proxy(server.tcp_port, after=LOTS, mode="lose-reply")
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text(_profile_text("p", proxy.port, user="u", keepalive=0))
    conn = get_conn("p", reconnect=True)
    sessions = conn.getSessionService()
    sessions.getReferenceCount(conn.c.getSessionId())  # the service exists: the next request is the call
    before = server.counters()["sessions_created"]
    proxy.trip_at_next_request()
    with pytest.raises(Ice.ConnectionLostException):
        sessions.createUserSession(60_000, 60_000, "lab")
    assert proxy.operations[-1] == "createUserSession"
    assert server.counters()["sessions_created"] == before + 1  # it ran once, and only once
    assert conn.reconnects == 0
    conn.close()
    proxy.stop()
    for session in server.sessions():
        server.close_session(session["uuid"])


# -- the proxy itself ---------------------------------------------------------------------------------
def test_proxy_forwards_requests_and_counts_only_requests(start_omero_server, freezing_proxy, user_file):
    server = start_omero_server(users=_users(["u"]))
    proxy = freezing_proxy(server.tcp_port, after=1000)
    user_file.parent.mkdir(parents=True, exist_ok=True)
    # no keep-alive: its thread may ping once right after the login, or not, which would make the count vary
    user_file.write_text(_profile_text("p", proxy.port, user="u", keepalive=0))
    with connect("p") as conn:
        assert conn.getEventContext().userName == "u"
    assert not proxy.tripped.is_set()
    assert proxy.operations[0] == "createSession" and "getEventContext" in proxy.operations
    assert "keepAlive" not in proxy.operations
    assert proxy.requests == len(proxy.operations) == 15  # replies and validation messages are not counted


def _ice_request(operation: str, request_id: int = 1) -> bytes:
    """A minimal Ice 1.0 request message (identity router/OMERO.Glacier2, no facet, empty params)."""
    def string(value: str) -> bytes:
        return bytes([len(value)]) + value.encode()

    body = (request_id.to_bytes(4, "little") + string("router") + string("OMERO.Glacier2") + b"\x00"
            + string(operation) + b"\x00" + b"\x00" + (6).to_bytes(4, "little") + b"\x01\x01")
    return HEADER.pack(b"IceP", 1, 0, 1, 0, 0, 0, HEADER.size + len(body)) + body


def test_operation_names_are_read_from_requests():
    assert operation_of(_ice_request("createSession")) == "createSession"
    assert operation_of(b"IceP\x01\x00\x01\x00\x03\x00\x0e\x00\x00\x00") == "?"  # validate connection


@pytest.mark.parametrize("mode", ["freeze", "close"])
def test_proxy_trips_on_request_after_plus_one(start_omero_server, freezing_proxy, mode):
    server = start_omero_server(users=_users(["u"]))
    proxy = freezing_proxy(server.tcp_port, after=0, mode=mode)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as sock:
        assert sock.recv(14)[:4] == b"IceP"  # the server's validation message is forwarded
        sock.sendall(_ice_request("getCategoryForClient"))
        assert proxy.tripped.wait(30)
        sock.settimeout(0.5)
        if mode == "freeze":
            with pytest.raises(TimeoutError):
                sock.recv(1)  # no reply, socket open
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as late:
                late.settimeout(0.5)
                with pytest.raises(TimeoutError):
                    late.recv(1)  # accepted, never greeted
        else:
            assert sock.recv(1) == b""  # closed
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    assert proxy.requests == 1 and proxy.operations == ["getCategoryForClient"]


def test_trip_at_next_request_trips_on_the_next_one_whatever_the_count(start_omero_server, freezing_proxy):
    server = start_omero_server(users=_users(["u"]))
    proxy = freezing_proxy(server.tcp_port, after=LOTS)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as sock:
        assert sock.recv(14)[:4] == b"IceP"
        for request_id in (1, 2):  # forwarded and answered
            sock.sendall(_ice_request("getCategoryForClient", request_id))
            reply = sock.recv(14)
            assert reply[:4] == b"IceP" and reply[8] == 2  # a reply message
            size = int.from_bytes(reply[10:14], "little")
            _drain(sock, size - 14)
        assert not proxy.tripped.is_set()
        proxy.trip_at_next_request()
        sock.sendall(_ice_request("getCategoryForClient", 3))
        assert proxy.tripped.wait(30)
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)
    assert proxy.requests == 3 and proxy.after == 2


def _drain(sock: socket.socket, size: int) -> None:
    while size > 0:
        chunk = sock.recv(size)
        assert chunk
        size -= len(chunk)


def test_proxy_rejects_unknown_modes():
    with pytest.raises(ValueError, match="mode"):
        FreezingProxy(1, after=1, mode="explode")



def test_liveness_probes_use_the_connect_timeout_not_call_timeout(start_omero_server, freezing_proxy, user_file):
    """ensure_alive() and the pool's check before lending: on a server frozen after login they end at
    `timeout` (TIMEOUT here), not at the 300 s `call_timeout` a user's long query is allowed."""
    from omeroprofiles.pool import ConnectionPool

    server = start_omero_server(users=_users(["u"]))
    proxy = freezing_proxy(server.tcp_port, after=LOTS)
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text(_profile_text("p", proxy.port, user="u", call_timeout=300))
    pace = Pace()
    conn = pace.measure(lambda: get_conn("p"))
    proxy.trip_at_next_request()
    started = time.monotonic()
    error, _ = _in_threads(lambda c: _raised(c.ensure_alive), [conn], workers=1)[conn]
    assert isinstance(error, Ice.TimeoutException)
    pace.check(time.monotonic() - started, TIMEOUT, idle_slack=1, what="ensure_alive()")
    conn.close()
    proxy.stop()

    proxy = freezing_proxy(server.tcp_port, after=LOTS)
    user_file.write_text(_profile_text("p", proxy.port, user="u", call_timeout=300))
    pool = ConnectionPool("p", size=1)
    started = time.monotonic()
    with pool.connection():
        pass  # opened
    pace.record(time.monotonic() - started)
    proxy.trip_at_next_request()
    started = time.monotonic()
    outcome = _in_threads(lambda p: _raised(p.acquire), [pool], workers=1)[pool]
    # the check, a close of the dead one, the bounded new login
    pace.check(time.monotonic() - started, 2 * TIMEOUT, idle_slack=2, what="acquire()")
    assert outcome[0] is not None  # no live connection could be lent: the replacement login froze too
    pool.close()
    proxy.stop()


def _raised(call) -> tuple[BaseException | None, None]:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - returned for the assertions
        return exc, None
    return None, None
