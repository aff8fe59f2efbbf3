"""`omero login` interop both ways, with the real OMERO CLI (in-process) and the stand-in server."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from omero.cli import CLI, NonZeroReturnCode

from omeroprofiles import AuthenticationFailed, connect, get_conn
from omeroprofiles.sessionstore import SessionStore


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "omero-sessions"
    monkeypatch.setenv("OMERO_SESSIONDIR", str(directory))
    monkeypatch.delenv("OMERO_PASSWORD", raising=False)
    return directory


def omero(*args: str) -> None:
    """The real `omero` command line, in-process (the script refuses to run as root)."""
    cli = CLI()
    cli.loadplugins()
    cli.invoke(list(args), strict=True)


@pytest.fixture
def profiles(omero_server, write_user) -> Path:
    h, p = omero_server.host, omero_server.ssl_port
    plain = f'{{ source = "plain", username = "alice", password = "{omero_server.users["alice"].password}" }}'
    return write_user(f"""
[defaults]
host = "{h}"
port = {p}
timeout = 10
keepalive = 0

[profiles.alice]
credentials = {plain}

[profiles.alice-private]
group = "alice-private"
credentials = {plain}

[profiles.stored]
credentials = {{ source = "omero-login", username = "alice" }}

[profiles.stored-last-user]
credentials = {{ source = "omero-login" }}

[profiles.stored-private]
group = "alice-private"
credentials = {{ source = "omero-login", username = "alice" }}

[profiles.root-as-bob]
su = "bob"
credentials = {{ source = "plain", username = "root", password = "{omero_server.users["root"].password}" }}
""")


def test_omero_login_then_a_profile_joins_with_no_password(omero_server, profiles, store_dir, no_leaked_sessions):
    omero("login", "-s", omero_server.host, "-p", str(omero_server.port), "-u", "alice", "-w", "alice-pw", "-q")
    stored = SessionStore(store_dir).sessions(omero_server.host, "alice", omero_server.port)
    assert len(stored) == 1
    no_leaked_sessions.allow(stored[0].key)  # it belongs to the `omero` store until `omero logout`
    before = omero_server.counters()
    for name in ("stored", "stored-last-user"):
        with connect(name) as conn:
            assert conn.joined and conn.getUser().getName() == "alice"
            assert conn.c.getSessionId() == stored[0].key
    after = omero_server.counters()
    assert after["logins"] == before["logins"]  # no new login: joined
    assert after["joins"] == before["joins"] + 2
    assert stored[0].key in {s["uuid"] for s in omero_server.sessions()}  # detached on close, not killed
    omero("logout")
    assert stored[0].key not in {s["uuid"] for s in omero_server.sessions()}


def test_a_joined_session_gets_the_profile_group_per_call(omero_server, profiles, store_dir, no_leaked_sessions):
    omero("login", "-s", omero_server.host, "-p", str(omero_server.port), "-u", "alice", "-w", "alice-pw", "-q")
    key = SessionStore(store_dir).sessions(omero_server.host, "alice")[0].key
    no_leaked_sessions.allow(key)
    with connect("stored-private") as conn:
        assert conn.call_group == omero_server.users.groups["alice-private"].id
    session = next(s for s in omero_server.sessions() if s["uuid"] == key)
    assert session["group"] == "lab-shared"  # the shared session's own group is untouched
    omero("logout")


def test_the_newest_live_session_is_joined_and_dead_ones_skipped(omero_server, profiles, store_dir, run):
    assert run("login", "alice").exit_code == 0
    assert run("login", "alice").exit_code == 0
    older, newer = sorted(SessionStore(store_dir).sessions(omero_server.host, "alice"), key=lambda s: s.mtime)
    with connect("stored") as conn:
        assert conn.c.getSessionId() == newer.key
    assert omero_server.close_session(newer.key)
    with connect("stored") as conn:  # the newest is dead: the next one is tried
        assert conn.c.getSessionId() == older.key
    assert omero_server.close_session(older.key)
    with pytest.raises(AuthenticationFailed) as info:
        get_conn("stored")
    assert info.value.exit_code == 6
    assert "omero-profile login stored" in info.value.hint


def test_no_stored_session_is_exit_6_with_the_fix(profiles, store_dir, run):
    result = run("test", "stored")
    assert result.exit_code == 6, result.stderr
    assert "no session of user 'alice' on 127.0.0.1:" in result.stderr
    assert "hint: log in first: omero-profile login stored" in result.stderr


def test_omero_profile_login_is_used_by_the_omero_cli(omero_server, profiles, store_dir, run, capsys):
    before = omero_server.counters()
    result = run("login", "alice", "--json")
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["user"], info["group"], info["port"]) == ("alice", "lab-shared", omero_server.port)
    assert "session_key" not in info
    [stored] = SessionStore(store_dir).sessions(omero_server.host, "alice")
    assert stored.key not in result.stdout + result.stderr
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.path.parent.stat().st_mode) == 0o700
    # exactly what `omero login` writes
    assert stored.path.read_text() == (f"omero.host={omero_server.host}\nomero.user=alice\n"
                                       f"omero.port={omero_server.port}\nomero.sess={stored.key}\n")
    assert (store_dir / "._LASTHOST_").read_text() == omero_server.host
    assert (store_dir / "._LASTPORT_").read_text() == str(omero_server.port)
    assert (store_dir / omero_server.host / "._LASTUSER_").read_text() == "alice"
    assert (stored.path.parent / "._LASTSESS_").read_text() == stored.key
    session = next(s for s in omero_server.sessions() if s["uuid"] == stored.key)
    assert session["refcount"] == 0  # detached: lives on for the store, no client holds it

    capsys.readouterr()
    omero("sessions", "list")
    listing = capsys.readouterr()
    assert stored.key in listing.out and "alice" in listing.out
    omero("login", "-s", omero_server.host, "-p", str(omero_server.port), "-u", "alice", "-q")  # no -w
    assert omero_server.counters()["logins"] == before["logins"] + 1  # only ours: the CLI re-used it

    assert run("logout", "alice").exit_code == 0
    assert not stored.path.exists()
    assert stored.key not in {s["uuid"] for s in omero_server.sessions()}
    with pytest.raises(NonZeroReturnCode):  # the CLI's session is gone too: it would need a password now
        omero("login", "-s", omero_server.host, "-p", str(omero_server.port), "-u", "alice", "-q")


def test_login_with_group_and_su_and_show_key(omero_server, profiles, store_dir, run):
    result = run("login", "root-as-bob", "--json", "--show-key")
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["user"], info["su_by"]) == ("bob", "root")
    [stored] = SessionStore(store_dir).sessions(omero_server.host, "bob")
    assert info["session_key"] == stored.key
    assert stored.props["omero.sudo"] == "root"
    private = json.loads(run("login", "alice-private", "--json").stdout)
    assert private["group"] == "alice-private"
    [alice] = SessionStore(store_dir).sessions(omero_server.host, "alice")
    assert alice.props["omero.group"] == "alice-private"
    assert run("logout", "root-as-bob").exit_code == 0
    assert run("logout", "alice-private").exit_code == 0
    assert omero_server.session_count("bob") == 0 and omero_server.session_count("alice") == 0


def test_long_lived_login_uses_create_user_session(omero_server, profiles, store_dir, run):
    before = omero_server.counters()
    result = run("login", "alice", "--idle", "2h", "--ttl", "7d", "--json")
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["time_to_idle_s"], info["time_to_live_s"]) == (7200, 7 * 86400)
    assert info["expires"] is not None
    [stored] = SessionStore(store_dir).sessions(omero_server.host, "alice")
    session = next(s for s in omero_server.sessions() if s["uuid"] == stored.key)
    assert (session["time_to_idle_ms"], session["time_to_live_ms"]) == (7_200_000, 604_800_000)
    after = omero_server.counters()
    assert after["logins"] == before["logins"] + 1 and after["sessions_created"] == before["sessions_created"] + 2
    assert omero_server.session_count("alice") == 1  # the login session it replaced is closed
    assert run("logout", "alice").exit_code == 0
    bad = run("login", "alice", "--idle", "soon")
    assert bad.exit_code == 2 and "'soon' is not a duration" in bad.stderr


def test_logout_with_nothing_to_end_is_not_an_error(profiles, store_dir, run):
    for args in (("logout", "alice"), ("logout", "alice", "--all", "--yes"), ("logout", "stored", "--all", "--yes")):
        result = run(*args)
        assert result.exit_code == 0 and "Nothing to end: no " in result.stderr, result.stderr
    assert json.loads(run("logout", "alice", "--json").stdout) == {"profile": "alice", "sessions": []}


def test_user_token_joins_and_a_dead_one_is_exit_6(omero_server, write_user, isolated_env, run, no_leaked_sessions):
    import omero

    owner = omero.client(host=omero_server.host, port=omero_server.ssl_port)
    owner.createSession("alice", "alice-pw")
    owner.getSession().detachOnDestroy()
    key = owner.getSessionId()
    owner.__del__()
    token = isolated_env / ".omero_user_token" / "token"
    token.parent.mkdir()
    token.write_text(f"{key}@{omero_server.host}:{omero_server.ssl_port}\n")
    write_user(f'[profiles.t]\nhost = "{omero_server.host}"\nport = {omero_server.ssl_port}\ntimeout = 10\n'
               'credentials = { source = "user-token" }\n')
    before = omero_server.counters()["logins"]
    with connect("t") as conn:
        assert conn.joined and conn.getUser().getName() == "alice"
    assert omero_server.counters()["logins"] == before
    assert omero_server.close_session(key)
    result = run("--debug", "test", "t")
    assert result.exit_code == 6, result.stderr
    assert "hint: the user token has expired or was ended; write one with: omero-profile login OTHER --user-token" \
        in result.stderr
    assert key not in result.stdout + result.stderr
