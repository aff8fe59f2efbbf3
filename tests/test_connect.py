"""get_conn / connect against the stand-in server with the real omero-py client (no mocks)."""

from __future__ import annotations

import threading
import time

import omero
import pytest
from connection_helpers import write_profiles
from omero.gateway import BlitzGateway
from timing_helpers import Pace

from omeroprofiles import (
    AccessDenied,
    AuthenticationFailed,
    CredentialError,
    ServerUnreachable,
    connect,
    get_conn,
)
from omeroprofiles.deadline import CLEANUP_MARGIN, pending_cleanups


@pytest.fixture
def server(omero_server, user_file, no_leaked_sessions):
    """The shared stand-in with the test profiles; every test fails if it leaves a session open there."""
    write_profiles(user_file, omero_server)
    return omero_server


def _sessions(server, user):
    return server.session_count(user)


def test_plain_login_is_a_real_blitzgateway(server):
    before = _sessions(server, "alice")
    conn = get_conn("alice")
    try:
        assert isinstance(conn, BlitzGateway)
        assert conn.isConnected()
        assert conn.getUser().getName() == "alice"
        assert conn.getGroupFromContext().getName() == "lab-shared"
        assert conn.c.isSecure()
        assert conn.profile.name == "alice"
        assert _sessions(server, "alice") == before + 1
    finally:
        conn.close()


def test_active_profile_is_used_without_a_name(server, monkeypatch):
    monkeypatch.setenv("OMERO_PROFILE", "alice-private")
    with connect() as conn:
        assert conn.getGroupFromContext().getName() == "alice-private"


def test_insecure_switches_to_plain_tcp(server):
    with connect("alice-insecure") as conn:
        assert not conn.c.isSecure()
        assert conn.getUser().getName() == "alice"
        session = next(s for s in server.sessions() if s["uuid"] == conn.c.getSessionId())
        assert [c["transport"] for c in session["clients"]] == ["tcp"]


@pytest.mark.parametrize("name", ["alice-ws", "alice-wss", "alice-tcp"])
def test_websocket_and_tcp_hosts(server, name):
    with connect(name) as conn:
        assert conn.getUser().getName() == "alice"
        session = next(s for s in server.sessions() if s["uuid"] == conn.c.getSessionId())
        assert [c["transport"] for c in session["clients"]] == [name.split("-")[1]]


def test_group_by_name_id_and_all(server):
    with connect("alice-private") as conn:
        assert conn.getEventContext().groupName == "alice-private"
    with connect("alice-by-id") as conn:
        assert conn.getEventContext().groupName == "alice-private"
    with connect("alice-all") as conn:
        assert conn.SERVICE_OPTS.getOmeroGroup() == "-1"
        assert conn.call_group == -1


def test_override_beats_the_file(server):
    with connect("alice", group="alice-private") as conn:
        assert conn.getEventContext().groupName == "alice-private"


def test_group_not_a_member_is_access_denied_not_a_silent_fallback(server):
    with pytest.raises(AccessDenied) as info:
        get_conn("alice-not-member")
    message = str(info.value)
    assert info.value.exit_code == 7
    assert "user 'alice' is not a member of group 'bob-private'" in message
    assert "lab-shared" in message and "alice-private" in message
    assert "alice-pw" not in message


def test_group_that_does_not_exist(server):
    with pytest.raises(AccessDenied, match="'no-such-group'"):
        get_conn("alice-no-such-group")


def test_bad_password_is_authentication_failed_and_tried_once(start_omero_server, user_file):
    server = start_omero_server(verbose=True)
    write_profiles(user_file, server)
    with pytest.raises(AuthenticationFailed) as info:
        get_conn("alice-bad-password")
    assert info.value.exit_code == 6
    assert "as 'alice': the server rejected the username or password" in str(info.value)
    assert "definitely-wrong-pw" not in str(info.value)
    attempts = [line for line in server.stderr().splitlines() if line.endswith("router createSession")]
    assert len(attempts) == 1, attempts


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("refused", "connection refused"),
        ("no-dns", "cannot resolve host name"),
        ("tls-on-tcp-port", "ssl://127.0.0.1"),
    ],
)
def test_unreachable_servers(server, name, fragment):
    pace = Pace()
    pace.measure(lambda: get_conn("alice").close())  # a whole connect, on this machine, now
    started = time.monotonic()
    with pytest.raises(ServerUnreachable, match=fragment) as info:
        get_conn(name)
    assert info.value.exit_code == 5
    pace.check(time.monotonic() - started, limit=5, idle_slack=1, what=name)  # the profiles' timeout is 5 s


def test_silent_port_is_bounded_by_the_profile_timeout(server, silent_port, user_file):
    text = user_file.read_text() + (
        f'\n[profiles.silent]\nhost = "127.0.0.1"\nport = {silent_port}\ntimeout = 2\n'
        'credentials = { source = "plain", username = "alice", password = "x" }\n')
    user_file.write_text(text)
    pace = Pace()
    pace.measure(lambda: get_conn("alice").close())
    started = time.monotonic()
    with pytest.raises(ServerUnreachable, match="no answer within 2 s"):
        get_conn("silent")
    pace.check(time.monotonic() - started, limit=2, idle_slack=1)


def test_a_router_that_never_replies_is_bounded_too(server, hung_router_port, user_file):
    """Ice's connect timeout is satisfied by this peer; only our own deadline ends the wait."""
    import threading

    user_file.write_text(user_file.read_text() + (
        f'\n[profiles.hung]\nhost = "tcp://127.0.0.1:{hung_router_port}"\ntimeout = 2\n'
        'credentials = { source = "plain", username = "alice", password = "x" }\n'))
    pace = Pace()
    pace.measure(lambda: get_conn("alice").close())
    started = time.monotonic()
    with pytest.raises(ServerUnreachable, match="no answer within 2 s"):
        get_conn("hung")
    pace.check(time.monotonic() - started, limit=2, idle_slack=1)
    # the abandoned attempt is torn down in the background (each clean-up gives up by its own bound,
    # 2 s + CLEANUP_MARGIN): nothing is left running. The wait is a hang guard, not a speed claim.
    deadline = time.monotonic() + 10 * (2 + CLEANUP_MARGIN)
    while pending_cleanups() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pending_cleanups() == 0
    assert not [t for t in threading.enumerate() if t.name == "omero-profiles-connect" and t.is_alive()]


def test_credentials_fail_before_any_network(server, monkeypatch):
    monkeypatch.delenv("OMERO_PASSWORD", raising=False)
    monkeypatch.setenv("OMERO_USER", "alice")
    with pytest.raises(CredentialError, match=r"\$OMERO_PASSWORD"):
        get_conn("alice-env")
    monkeypatch.setenv("OMERO_PASSWORD", server.users["alice"].password)
    with connect("alice-env") as conn:
        assert conn.getUser().getName() == "alice"
    with pytest.raises(CredentialError, match="needs a terminal"):
        get_conn("alice-prompt")


def _raw_session(server, user="alice"):
    client = omero.client(host=server.host, port=server.ssl_port)
    client.createSession(user, server.users[user].password)
    client.getSession().detachOnDestroy()
    return client


def test_join_by_session_key_and_close_only_detaches(server, monkeypatch):
    owner = _raw_session(server)
    key = owner.getSessionId()
    try:
        monkeypatch.setenv("TEST_OMERO_SESSION", key)
        with connect("session") as conn:
            assert conn.joined
            assert conn.getUser().getName() == "alice"
            assert conn.c.getSessionId() == key
        assert key in {s["uuid"] for s in server.sessions()}  # still alive for its owner
        owner.getSession().getAdminService().getEventContext()
        with connect("session", group="alice-private") as conn:  # per-call group, session untouched
            assert conn.call_group == server.users.groups["alice-private"].id
        assert owner.getSession().getAdminService().getEventContext().groupName == "lab-shared"
    finally:
        owner.killSession()
        owner.__del__()
    with pytest.raises(AuthenticationFailed, match="session key was rejected"):
        get_conn("session")


def test_su_by_full_admin_leaves_no_admin_session(server):
    root_before, bob_before = _sessions(server, "root"), _sessions(server, "bob")
    conn = get_conn("root-as-bob")
    try:
        assert conn.getUser().getName() == "bob"
        assert conn.su == "bob" and conn.su_by == "root"
        assert conn.getEventContext().groupName == "bob-private"
        assert _sessions(server, "root") == root_before
        assert _sessions(server, "bob") == bob_before + 1
        session = next(s for s in server.sessions() if s["uuid"] == conn.c.getSessionId())
        assert session["sudoer"] == "root"
    finally:
        conn.close()
    with connect("root-as-bob-shared") as conn:
        assert conn.getEventContext().groupName == "lab-shared"
    with connect("sudoer-as-bob") as conn:
        assert conn.getUser().getName() == "bob"


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("alice-as-bob", "'alice' is neither an administrator nor an owner"),
        ("helpdesk-as-bob", "restricted administrator without the Sudo privilege"),
        ("root-as-nobody", "cannot su to 'nobody': no such user"),
        ("root-as-bob-wrong-group", "user 'bob' is not a member of group 'alice-private'"),
    ],
)
def test_su_refusals(server, name, fragment):
    with pytest.raises(AccessDenied, match=fragment) as info:
        get_conn(name)
    assert info.value.exit_code == 7


def test_context_manager_closes_on_error(server):
    before = _sessions(server, "alice")
    with pytest.raises(RuntimeError), connect("alice") as conn:
        assert _sessions(server, "alice") == before + 1
        raise RuntimeError("boom")
    assert not conn.isConnected()


@pytest.mark.slow
def test_keepalive_keeps_an_idle_session(start_omero_server, user_file):
    server = start_omero_server(session_timeout=6.0)
    write_profiles(user_file, server)
    with connect("alice", keepalive=5) as kept, connect("alice", keepalive=0) as idle:
        time.sleep(8)
        assert kept.getEventContext().userName == "alice"
        assert kept.c.getSessionId() in {s["uuid"] for s in server.sessions()}
        assert idle.c.getSessionId() not in {s["uuid"] for s in server.sessions()}


def test_reconnect_after_expiry(server):
    conn = get_conn("alice-private", reconnect=True)
    try:
        old = conn.c.getSessionId()
        assert server.expire_session(old)
        # an ordinary gateway call notices the lost session, re-opens it and is repeated
        assert conn.getObject("Experimenter", attributes={"omeName": "bob"}).getName() == "bob"
        assert conn.reconnects == 1
        new = conn.c.getSessionId()
        assert new != old and new in {s["uuid"] for s in server.sessions()}
        assert conn.getEventContext().groupName == "alice-private"  # group re-applied
        assert server.expire_session(new)
        assert conn.ensure_alive() is False  # the explicit form, between batches
        assert conn.reconnects == 2
        assert conn.ensure_alive() is True
    finally:
        conn.close()


def test_a_reconnected_call_logs_no_warning_and_other_failures_still_do(server, caplog):
    """omero-py logs each failed call with a traceback (WARNING); a lost session we re-open is not a
    failure. Any other failure is still logged and raised as omero-py does."""
    import logging

    conn = get_conn("alice", reconnect=True)
    try:
        assert conn.getAdminService().getEventContext().userName == "alice"  # the service exists: next is a call
        assert server.expire_session(conn.c.getSessionId())
        with caplog.at_level(logging.DEBUG):
            assert conn.getAdminService().getEventContext().userName == "alice"
        assert conn.reconnects == 1
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
        assert "re-opening the session" in caplog.text
        caplog.clear()
        with caplog.at_level(logging.WARNING), pytest.raises(omero.ServerError):
            conn.getQueryService().findAllByQuery("select nonsense from Nowhere", None)
        assert [r.name for r in caplog.records] == ["omero.gateway"]  # omero-py's own warning, as without us
        assert conn.reconnects == 1
    finally:
        conn.close()


def test_a_session_that_keeps_vanishing_is_reopened_once_per_call(server, monkeypatch):
    """If the re-opened session is gone too, the call fails: one reconnect, not one per level of
    recursion until RecursionError (each with a new login)."""
    from omeroprofiles.gateway import ProfileGateway

    conn = get_conn("alice", reconnect=True)
    admin = conn.getAdminService()
    assert admin.getEventContext().userName == "alice"
    reopen = ProfileGateway.reconnect

    def reconnect_into_a_session_the_server_ends(self):  # the real reconnect, then the server ends it
        reopen(self)
        assert server.expire_session(self.c.getSessionId())

    monkeypatch.setattr(ProfileGateway, "reconnect", reconnect_into_a_session_the_server_ends)
    logins = server.counters()["logins"]
    assert server.expire_session(conn.c.getSessionId())
    with pytest.raises((omero.SessionTimeoutException, omero.RemovedSessionException)):
        admin.getEventContext()
    assert conn.reconnects == 1 and server.counters()["logins"] == logins + 1
    monkeypatch.undo()
    assert admin.getEventContext().userName == "alice"  # the held service works on the next session
    assert conn.reconnects == 2
    assert admin.getEventContext().userName == "alice"  # and keeps working (it was re-synced, not replaced)
    conn.close()


def test_a_held_service_keeps_working_across_reconnects(server):
    """`qs = conn.getQueryService()`, then a loop: every call after a reconnect uses the new session."""
    conn = get_conn("alice", reconnect=True)
    admin = conn.getAdminService()
    for _ in range(3):
        assert admin.getEventContext().userName == "alice"
        assert admin.getEventContext().userName == "alice"
        assert server.expire_session(conn.c.getSessionId())
    assert admin.getEventContext().userName == "alice"
    assert conn.reconnects == 3
    conn.close()


def test_a_custom_safe_call_wrapper_still_sees_every_call(server, monkeypatch):
    """omero.gateway.SafeCallWrapper is omero-py's extension point: reconnect=True must not bypass it."""
    import omero.gateway

    seen: list[str] = []

    class Audited(omero.gateway.OmeroGatewaySafeCallWrapper):
        def __call__(self, *args, **kwargs):
            seen.append(self.attr)
            return super().__call__(*args, **kwargs)

    monkeypatch.setattr(omero.gateway, "SafeCallWrapper", Audited)
    conn = get_conn("alice", reconnect=True)
    assert conn.getAdminService().getEventContext().userName == "alice"
    with pytest.raises(omero.ServerError):
        conn.getQueryService().findAllByQuery("select nonsense from Nowhere", None)
    assert seen == ["getEventContext", "findAllByQuery"]
    server.expire_session(conn.c.getSessionId())
    assert conn.getAdminService().getEventContext().userName == "alice"  # re-opened, repeated
    assert seen[2:] == ["getEventContext", "getEventContext"] and conn.reconnects == 1
    conn.close()


def test_without_reconnect_an_expired_session_fails(server):
    conn = get_conn("alice")
    try:
        assert server.expire_session(conn.c.getSessionId())
        with pytest.raises(Exception):  # noqa: B017 - whatever omero-py raises, it must not succeed
            conn.c.getSession().getAdminService().getEventContext()
    finally:
        conn.close()


def test_pool_with_eight_threads(server):
    from omeroprofiles.pool import ConnectionPool

    errors: list[BaseException] = []
    users: list[str] = []
    before = _sessions(server, "alice")
    pool = ConnectionPool("alice", size=4)

    def work():
        try:
            for _ in range(5):
                with pool.connection() as conn:
                    users.append(conn.getEventContext().userName)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert users == ["alice"] * 40
    assert 1 <= pool.open_connections <= 4
    assert _sessions(server, "alice") == before + pool.open_connections
    # a dead session is replaced on the next borrow
    with pool.connection() as conn:
        dead = conn.c.getSessionId()
    assert server.expire_session(dead)
    with pool.connection() as conn:  # the pool lends the most recently returned connection first
        assert conn.c.getSessionId() != dead
        assert conn.getEventContext().userName == "alice"
    assert pool.replaced == 1
    pool.close()


def test_secrets_never_in_repr_or_errors(server):
    with connect("alice") as conn:
        assert "alice-pw" not in repr(conn)
        assert "alice-pw" not in repr(conn.profile)
        assert conn.c.getSessionId() not in repr(conn)


def test_a_call_longer_than_the_connect_timeout_is_fine_within_call_timeout(start_omero_server, user_file,
                                                                           monkeypatch):
    """`timeout` bounds the connect; each later call is bounded by `call_timeout` (a slow query must not be
    cut off at the connect bound, a frozen server still ends it). A slow call here: ISession.createSession,
    whose password check takes 2 s on this server."""
    import Ice
    import omero.sys

    server = start_omero_server(ws=False, wss=False, login_delay=2.0)
    owner = omero.client(host=server.host, port=server.ssl_port)
    owner.createSession("alice", "alice-pw")  # 2 s, outside any profile
    owner.getSession().detachOnDestroy()
    key = owner.getSessionId()
    owner.__del__()
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text(f'[profiles.k]\nhost = "{server.host}"\nport = {server.ssl_port}\ntimeout = 1\n'
                         'keepalive = 0\ncredentials = { source = "session", key_var = "K" }\n')
    principal = omero.sys.Principal(name="alice", group="lab-shared", eventType="User")
    monkeypatch.setenv("K", key)
    try:
        with connect("k", call_timeout=10) as conn:  # joining is quick: no password check
            started = time.monotonic()
            made = conn.getSessionService().createSession(principal, "alice-pw")
            assert time.monotonic() - started > 1.5
            conn.getSessionService().closeSession(made)
        with connect("k", call_timeout=1) as conn, pytest.raises(Ice.TimeoutException):
            conn.getSessionService().createSession(principal, "alice-pw")
    finally:
        server.close_session(key)
