"""su as a real OMERO server allows it: administrators with Sudo, and group owners for members of
the groups they own; long-lived su sessions made by the su-er (a server refuses createUserSession
from a session an administrator made). Real client, stand-in server."""

from __future__ import annotations

import json

import omero
import pytest

from omeroprofiles import AccessDenied, connect, get_conn
from omeroprofiles.classify import server_refusal
from omeroprofiles.errors import ServerUnreachable
from omeroprofiles.sessionstore import SessionStore


@pytest.fixture
def store_dir(tmp_path, monkeypatch):
    directory = tmp_path / "omero-sessions"
    monkeypatch.setenv("OMERO_SESSIONDIR", str(directory))
    return directory


def _plain(server, user: str) -> str:
    return f'{{ source = "plain", username = "{user}", password = "{server.users[user].password}" }}'


@pytest.fixture
def profiles(omero_server, write_user):
    s = omero_server
    return write_user(f"""
[defaults]
host = "{s.host}"
port = {s.ssl_port}
timeout = 10
keepalive = 0

[profiles.bob-as-alice]
su = "alice"
credentials = {_plain(s, "bob")}

[profiles.bob-as-alice-private]
extends = "bob-as-alice"
group = "alice-private"

[profiles.bob-as-alice-all]
extends = "bob-as-alice"
group = -1

[profiles.alice-as-bob]
su = "bob"
credentials = {_plain(s, "alice")}

[profiles.root-as-bob]
su = "bob"
credentials = {_plain(s, "root")}

[profiles.alice-key]
credentials = {{ source = "session", key_var = "ALICE_KEY" }}
""")


def _session(server, key: str) -> dict:
    return next(s for s in server.sessions() if s["uuid"] == key)


def test_a_group_owner_may_su_to_a_member_of_a_group_they_own(omero_server, profiles, no_leaked_sessions):
    bob_before = omero_server.session_count("bob")
    with connect("bob-as-alice") as conn:
        assert conn.getUser().getName() == "alice" and conn.su_by == "bob"
        ec = conn.getEventContext()
        assert ec.groupName == "lab-shared"  # alice's default group, which bob owns
        assert ec.sudoerName.val == "bob"
        session = _session(omero_server, conn.c.getSessionId())
        assert session["sudoer"] == "bob" and session["group"] == "lab-shared"
    assert omero_server.session_count("bob") == bob_before  # the owner's login is closed


def test_a_group_owner_su_is_refused_outside_the_groups_they_own(omero_server, profiles):
    with pytest.raises(AccessDenied, match=r"as a group owner it may su only into groups it owns "
                                           r"\(bob-private, lab-shared\), not 'alice-private'") as info:
        get_conn("bob-as-alice-private")
    assert info.value.exit_code == 7
    assert not [s for s in omero_server.sessions() if s["user"] == "alice" and s["sudoer"] == "bob"]


def test_a_group_owner_su_cannot_use_all_groups(profiles):
    """A real server holds a group-owner sudo session to the groups the owner leads: every call
    with group -1 would be refused ("Group-sudo session cannot change context!")."""
    with pytest.raises(AccessDenied, match=r"group = -1 \(all groups\) cannot work") as info:
        get_conn("bob-as-alice-all")
    assert info.value.exit_code == 7


def test_a_member_who_owns_none_of_the_targets_groups_is_refused(profiles):
    with pytest.raises(AccessDenied, match="'alice' is neither an administrator nor an owner") as info:
        get_conn("alice-as-bob")
    assert info.value.exit_code == 7


def test_an_su_session_idles_out_like_a_login(omero_server, profiles):
    """createSessionWithTimeout gives a session with no idle timeout on a real server; su asks for
    the server's own idle timeout instead (as 'omero login --sudo' does) and no lifetime cap."""
    with connect("root-as-bob") as conn:
        session = _session(omero_server, conn.c.getSessionId())
        assert session["time_to_idle_ms"] == int(omero_server.session_timeout * 1000)
        assert session["time_to_live_ms"] == 0


@pytest.mark.parametrize(("name", "user", "su_by"), [("root-as-bob", "bob", "root"),
                                                      ("bob-as-alice", "alice", "bob")])
def test_long_lived_login_under_su_is_made_by_the_su_er(omero_server, profiles, store_dir, run, name, user,
                                                        su_by):
    before, su_er_before = omero_server.session_count(user), omero_server.session_count(su_by)
    result = run("login", name, "--idle", "2h", "--ttl", "7d", "--json")
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["user"], info["su_by"]) == (user, su_by)
    assert (info["time_to_idle_s"], info["time_to_live_s"]) == (7200, 7 * 86400)
    [stored] = SessionStore(store_dir).sessions(omero_server.host, user)
    session = _session(omero_server, stored.key)
    assert (session["time_to_idle_ms"], session["time_to_live_ms"]) == (7_200_000, 604_800_000)
    assert session["sudoer"] == su_by
    assert omero_server.session_count(user) == before + 1  # the su session it replaced is closed
    assert omero_server.session_count(su_by) == su_er_before  # the su-er's logins are closed
    assert run("logout", name).exit_code == 0
    assert omero_server.session_count(user) == before


def test_long_lived_login_from_a_joined_session_is_refused_with_the_reason(omero_server, profiles, store_dir,
                                                                         run, monkeypatch):
    owner = omero.client(host=omero_server.host, port=omero_server.ssl_port)
    try:
        owner.createSession("alice", omero_server.users["alice"].password)
        monkeypatch.setenv("ALICE_KEY", owner.getSessionId())
        result = run("login", "alice-key", "--idle", "1h")
        assert result.exit_code == 7, result.stderr
        assert "Bad authentication credentials for this action" in result.stderr
        assert owner.getSessionId() not in result.stderr
    finally:
        owner.killSession()
        owner.__del__()


def test_server_refusals_are_exit_7_with_the_reason_and_no_session_key(profiles):
    from omeroprofiles import load_profile

    profile = load_profile("root-as-bob")
    key = "0b6e4f0e-1c1a-4a7c-9a39-4a1b7c2d9e11"
    refused = omero.SecurityViolation(message=f"No matching roles found in [guest] for session {key}")
    mapped = server_refusal(refused, profile, user="root", action="su to 'bob'")
    assert isinstance(mapped, AccessDenied) and mapped.exit_code == 7
    assert key not in str(mapped) and "No matching roles found" in str(mapped) and "<uuid>" in str(mapped)
    for kind in (omero.ApiUsageException, omero.ValidationException, omero.RemovedSessionException):
        assert server_refusal(kind(message="Can't find default group for x"), profile, user="root",
                              action="su").exit_code == 7
    import Ice

    lost = server_refusal(Ice.ConnectionLostException(), profile, user="root", action="su")
    assert isinstance(lost, ServerUnreachable) and lost.exit_code == 5
