"""Session fixation: a session key from a file someone else could write never connects you as them.

Two defences, tested apart: every joined session is checked to be the expected user's (whatever
the file system looks like), and files or directories another user could have written are not
read at all. Attacks as a second Unix user need root (to become that user); CI runs as root.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from session_helpers import end_all, live_session

from omeroprofiles import SessionOfAnotherUser, connect, get_conn
from omeroprofiles.sessionstore import SessionStore

NOBODY = 65534
LAB_GID = 42420
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="becoming a second Unix user needs root")


def _plant(directory: Path, key: str, server, user: str = "bob") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / key
    path.write_text(f"omero.host={server.host}\nomero.user={user}\nomero.port={server.ssl_port}\nomero.sess={key}\n")
    return path


def _alive(server, key: str) -> bool:
    return key in {s["uuid"] for s in server.sessions()}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "store"
    monkeypatch.setenv("OMERO_SESSIONDIR", str(directory))
    return directory


@pytest.fixture
def profiles(omero_server, write_user, store) -> Path:
    bob = f'{{ source = "plain", username = "bob", password = "{omero_server.users["bob"].password}" }}'
    return write_user(f"""
[defaults]
host = "{omero_server.host}"
port = {omero_server.ssl_port}
timeout = 10
keepalive = 0

[profiles.s]
share_session = true
credentials = {bob}

[profiles.login-bob]
credentials = {{ source = "omero-login", username = "bob" }}

[profiles.key-bob]
credentials = {{ source = "session", key_var = "SOME_KEY", username = "bob" }}

[profiles.key-anyone]
credentials = {{ source = "session", key_var = "SOME_KEY" }}

[profiles.token-bob]
credentials = {{ source = "user-token", username = "bob" }}
""")


def test_a_planted_stored_session_of_another_user_is_refused_named_and_removed(omero_server, profiles, store, run):
    alice_key = live_session(omero_server, "alice")
    planted = _plant(store / omero_server.host / "bob", alice_key, omero_server)
    result = run("--debug", "test", "login-bob")
    assert result.exit_code == 6, result.stdout + result.stderr
    assert "belongs to 'alice', not to 'bob'" in result.stderr
    assert "user:" not in result.stdout  # never connected as alice, not even for a moment's output
    assert alice_key not in result.stdout + result.stderr
    assert not planted.exists()  # not used again
    assert _alive(omero_server, alice_key)  # left, never killed: it is alice's
    assert run("test", "login-bob").exit_code == 6  # now simply: nothing stored
    omero_server.close_session(alice_key)


def test_a_planted_key_is_skipped_for_a_real_session_behind_it(omero_server, profiles, store):
    bob_key = live_session(omero_server, "bob")
    _plant(store / omero_server.host / "bob", bob_key, omero_server)
    alice_key = live_session(omero_server, "alice")
    newer = _plant(store / omero_server.host / "bob", alice_key, omero_server)
    os.utime(newer, (os.stat(newer).st_mtime + 60,) * 2)  # the planted one is tried first
    with connect("login-bob") as conn:
        assert conn.getUser().getName() == "bob" and conn.c.getSessionId() == bob_key
    assert not newer.exists()
    for key in (alice_key, bob_key):
        omero_server.close_session(key)


def test_share_session_never_joins_a_planted_file(omero_server, profiles, store):
    alice_key = live_session(omero_server, "alice")
    _plant(store / omero_server.host / "bob", alice_key, omero_server)
    with connect("s") as conn:
        assert conn.getUser().getName() == "bob" and conn.c.getSessionId() != alice_key
    assert _alive(omero_server, alice_key)
    omero_server.close_session(alice_key)
    end_all(omero_server, "bob")


def test_session_and_token_sources_check_the_user_they_name(omero_server, profiles, isolated_env, monkeypatch):
    alice_key = live_session(omero_server, "alice")
    monkeypatch.setenv("SOME_KEY", alice_key)
    with pytest.raises(SessionOfAnotherUser) as info:
        get_conn("key-bob")
    assert (info.value.expected, info.value.found, info.value.exit_code) == ("bob", "alice", 6)
    assert alice_key not in str(info.value) + str(info.value.hint)
    with connect("key-anyone") as conn:  # no user named: the key is what the person asked for
        assert conn.getUser().getName() == "alice"
    token = isolated_env / ".omero_user_token" / "token"
    token.parent.mkdir(mode=0o700)
    token.write_text(f"{alice_key}@{omero_server.host}:{omero_server.ssl_port}")
    with pytest.raises(SessionOfAnotherUser):
        get_conn("token-bob")
    assert _alive(omero_server, alice_key)
    omero_server.close_session(alice_key)


def test_a_group_writable_store_is_read_and_said_so_under_debug(omero_server, profiles, store, run, caplog):
    bob_key = live_session(omero_server, "bob")
    user_dir = store / omero_server.host / "bob"
    _plant(user_dir, bob_key, omero_server)
    for d in (store, user_dir.parent, user_dir):
        d.chmod(0o2770)  # what the OMERO CLI leaves under umask 002
    with caplog.at_level(logging.DEBUG, logger="omeroprofiles.sessionstore"), connect("login-bob") as conn:
        assert conn.c.getSessionId() == bob_key  # the user's own sessions are still seen
    assert "is group-writable" in caplog.text
    result = run("--debug", "test", "login-bob")
    assert result.exit_code == 0 and "is group-writable" in result.stderr
    omero_server.close_session(bob_key)


def test_a_store_directory_anyone_may_write_is_not_read_and_not_written(omero_server, profiles, store, run):
    bob_key = live_session(omero_server, "bob")
    user_dir = store / omero_server.host / "bob"
    _plant(user_dir, bob_key, omero_server)
    user_dir.chmod(0o777)
    assert SessionStore().sessions(omero_server.host, "bob") == []
    assert run("test", "login-bob").exit_code == 6
    result = run("login", "s")
    assert result.exit_code == 2 and "anyone may write to it" in result.stderr, result.stderr
    assert stat.S_IMODE(user_dir.stat().st_mode) == 0o777  # refused, not silently changed
    assert omero_server.session_count("bob") == 1  # the session that could not be stored was ended
    omero_server.close_session(bob_key)


@pytest.fixture
def open_store(monkeypatch: pytest.MonkeyPatch):
    """A store where a second Unix user can reach it (pytest's tmp_path is root's alone)."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="omero-profiles-test-"))
    base.chmod(0o711)
    monkeypatch.setenv("OMERO_SESSIONDIR", str(base / "store"))
    yield base / "store"
    shutil.rmtree(base)


@as_root
def test_a_lab_member_cannot_plant_a_session_in_a_group_writable_store(omero_server, profiles, open_store, run):
    """The issue's repro: the victim's store directory is 2770 root:lab, and another member of lab
    (a second Unix user) writes a file named after alice's live session key into it."""
    import subprocess
    import sys

    store = open_store
    alice_key = live_session(omero_server, "alice")
    user_dir = store / omero_server.host / "bob"
    user_dir.mkdir(parents=True)
    for d in (store, user_dir.parent, user_dir):
        os.chown(d, 0, LAB_GID)
        d.chmod(0o2770)
    attacker = (f"import os; os.setgroups([{LAB_GID}]); os.setgid({LAB_GID}); os.setuid({NOBODY})\n"
                f"p = {str(user_dir / alice_key)!r}\n"
                f"open(p, 'w').write('omero.host={omero_server.host}\\nomero.user=bob\\n"
                f"omero.port={omero_server.ssl_port}\\nomero.sess={alice_key}\\n')\n"
                f"open({str(user_dir.parent / '._LASTUSER_')!r}, 'w').write('alice')\n")
    subprocess.run([sys.executable, "-c", attacker], check=True)
    assert (user_dir / alice_key).stat().st_uid == NOBODY
    assert SessionStore().sessions(omero_server.host, "bob") == []  # another user's files are not read
    assert SessionStore().last_user(omero_server.host) is None
    for name in ("login-bob", "s"):
        result = run("test", name)
        assert "user:     alice" not in result.stdout, result.stdout
    assert _alive(omero_server, alice_key)
    omero_server.close_session(alice_key)
    end_all(omero_server, "bob")


@as_root
def test_no_session_is_written_into_a_directory_another_user_owns(omero_server, profiles, store, run):
    store.mkdir()
    os.chown(store, NOBODY, NOBODY)
    result = run("login", "s")
    assert result.exit_code == 2 and "belongs to another user" in result.stderr, result.stderr
    assert list(store.iterdir()) == []
    assert omero_server.session_count("bob") == 0


def test_a_user_token_in_a_directory_anyone_may_write_is_neither_read_nor_written(
        omero_server, profiles, isolated_env, run, monkeypatch, tmp_path):
    token_dir = tmp_path / "tokens"
    monkeypatch.setenv("OMERO_USER_TOKEN_DIR", str(token_dir))
    token_dir.mkdir()
    token_dir.chmod(0o777)
    key = live_session(omero_server, "bob")
    (token_dir / "token").write_text(f"{key}@{omero_server.host}:{omero_server.ssl_port}")
    result = run("test", "token-bob")
    assert result.exit_code == 4 and "anyone may write to it" in result.stderr, result.stderr
    write_user_token = run("login", "s", "--user-token")
    assert write_user_token.exit_code == 2 and "anyone may write to it" in write_user_token.stderr
    end_all(omero_server, "bob")


@as_root
def test_a_user_token_another_user_owns_is_not_read(omero_server, profiles, isolated_env, run, monkeypatch, tmp_path):
    token_dir = tmp_path / "tokens"
    monkeypatch.setenv("OMERO_USER_TOKEN_DIR", str(token_dir))
    token_dir.mkdir(mode=0o700)
    key = live_session(omero_server, "bob")
    token = token_dir / "token"
    token.write_text(f"{key}@{omero_server.host}:{omero_server.ssl_port}")
    os.chown(token, NOBODY, NOBODY)
    result = run("test", "token-bob")
    assert result.exit_code == 4 and "another user (uid 65534) owns it" in result.stderr, result.stderr
    omero_server.close_session(key)


def test_logout_all_never_ends_a_session_a_planted_file_names(omero_server, profiles, store, run):
    alice_key = live_session(omero_server, "alice")
    planted = _plant(store / omero_server.host / "bob", alice_key, omero_server)
    result = run("logout", "s", "--all", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "named another user's session: left alone, its file removed" in result.stderr
    assert _alive(omero_server, alice_key) and not planted.exists()
    omero_server.close_session(alice_key)
