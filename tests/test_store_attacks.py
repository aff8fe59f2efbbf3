"""A hostile or odd OMERO session store: nothing outside it is read, written or deleted, nothing blocks.

The store (``$OMERO_SESSIONDIR``) is a directory tree named by host, user and session key, with
``._LASTUSER_``-style pointer files. Its names come from places we do not control: the server
(the user name it reports, the session key), the ``omero`` CLI or anyone who can write there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from omeroprofiles.sessionstore import SessionStore

SCRIPT = str(Path(sys.executable).with_name("omero-profile"))


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "store"
    monkeypatch.setenv("OMERO_SESSIONDIR", str(directory))
    return directory


@pytest.fixture
def victim(tmp_path: Path, omero_server) -> Path:
    """A directory outside the store holding a file that looks like a session of the test server."""
    directory = tmp_path / "victim"
    directory.mkdir()
    (directory / "important.txt").write_text(f"omero.port={omero_server.ssl_port}\nprecious\n")
    return directory


@pytest.fixture
def profiles(omero_server, write_user) -> Path:
    return write_user(f"""
[defaults]
host = "{omero_server.host}"
port = {omero_server.ssl_port}
timeout = 5
keepalive = 0

[profiles.alice]
credentials = {{ source = "plain", username = "alice", password = "{omero_server.users["alice"].password}" }}

[profiles.stored]
credentials = {{ source = "omero-login" }}

[profiles.stored-alice]
credentials = {{ source = "omero-login", username = "alice" }}
""")


def test_logout_never_deletes_a_file_a_last_user_pointer_leads_to(omero_server, profiles, store, victim, run):
    host_dir = store / omero_server.host
    host_dir.mkdir(parents=True)
    (host_dir / "._LASTUSER_").write_text(os.path.relpath(victim, host_dir))  # ../../victim
    result = run("logout", "stored", "--all", "--yes")
    assert result.exit_code == 0 and "Nothing to end" in result.stderr, result.stderr
    assert (victim / "important.txt").read_text().endswith("precious\n")
    assert run("test", "stored").exit_code == 6


def test_a_symlinked_user_directory_is_neither_joined_nor_emptied(omero_server, profiles, store, victim, run):
    (store / omero_server.host).mkdir(parents=True)
    (store / omero_server.host / "alice").symlink_to(victim, target_is_directory=True)
    result = run("logout", "stored-alice", "--all", "--yes")
    assert result.exit_code == 0 and "Nothing to end" in result.stderr, result.stderr
    assert (victim / "important.txt").exists()
    assert run("test", "stored-alice").exit_code == 6


def test_a_symlink_in_the_store_is_never_written_through(omero_server, profiles, store, victim, run):
    store.mkdir()
    target = victim / "important.txt"
    before = target.read_bytes()
    (store / "._LASTHOST_").symlink_to(target)
    sessions = omero_server.session_count("alice")
    result = run("login", "alice")
    assert result.exit_code == 2, result.stderr
    assert "._LASTHOST_" in result.stderr and "symbolic link" in result.stderr
    assert target.read_bytes() == before
    assert omero_server.session_count("alice") == sessions  # the session that could not be stored was ended


@pytest.mark.parametrize("user", ["../../escape", "a/b", ".."])
def test_a_user_name_that_is_a_path_is_never_a_path_in_the_store(start_omero_server, write_user, store, tmp_path,
                                                                 run, user):
    server = start_omero_server(users={"groups": {"g": {}}, "users": {user: {"password": "pw", "groups": ["g"]}}},
                                ws=False, wss=False)
    write_user(f"""
[profiles.odd]
host = "{server.host}"
port = {server.ssl_port}
timeout = 5
keepalive = 0
credentials = {{ source = "plain", username = "{user}", password = "pw" }}
""")
    before = sorted(p for p in tmp_path.rglob("*") if not p.is_relative_to(store))
    result = run("login", "odd")
    assert result.exit_code == 2, result.stderr
    assert "cannot be stored" in result.stderr
    assert sorted(p for p in tmp_path.rglob("*") if not p.is_relative_to(store)) == before
    assert server.session_count() == 0


def test_a_session_key_that_is_a_path_is_refused_by_the_store(tmp_path):
    from omeroprofiles.errors import ConfigError

    store = SessionStore(tmp_path / "store")
    for key in ("../../x", "a/b", ".hidden", ""):
        with pytest.raises(ConfigError):
            store.add("127.0.0.1", "alice", key, port=4064)
    assert not (tmp_path / "x").exists()


def _cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The installed script; one that blocks on a FIFO fails the test (TimeoutExpired) instead of hanging it."""
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env_extra or {})})


def test_a_fifo_in_the_store_never_blocks(omero_server, profiles, store):
    host_dir = store / omero_server.host
    (host_dir / "alice").mkdir(parents=True)
    os.mkfifo(host_dir / "._LASTUSER_")
    os.mkfifo(host_dir / "alice" / "._LASTSESS_")
    for args, code in ((("test", "stored"), 6), (("logout", "stored", "--all", "--yes"), 0),
                       (("test", "stored-alice"), 6), (("logout", "stored-alice", "--all", "--yes"), 0)):
        result = _cli(*args)
        assert result.returncode == code, result.stderr
        assert "Traceback" not in result.stderr


def test_a_huge_session_file_is_not_read_whole(omero_server, profiles, store):
    user_dir = store / omero_server.host / "alice"
    user_dir.mkdir(parents=True)
    with open(user_dir / "0f9ff1e2-huge", "wb") as handle:
        handle.truncate(8 * 1024 ** 3)  # sparse: costs no disk, would cost 8 GiB of memory to read
    assert SessionStore().sessions(omero_server.host, "alice", omero_server.ssl_port) == []


def test_a_fifo_as_user_token_fails_at_once(omero_server, write_user, tmp_path):
    token = tmp_path / "token"
    os.mkfifo(token)
    write_user(f"""
[profiles.tok]
host = "{omero_server.host}"
port = {omero_server.ssl_port}
timeout = 5
credentials = {{ source = "user-token", file = "{token}" }}
""")
    result = _cli("test", "tok")
    assert result.returncode == 4, result.stderr
    assert "FIFO" in result.stderr  # refused as a FIFO, not after the profile's timeout


def test_concurrent_logins_all_store_their_session(tmp_path):
    """Every login writes ._LASTHOST_; a writer must not delete another's temp file as 'stale'."""
    import threading

    store = SessionStore(tmp_path / "store")
    failures: list[BaseException] = []

    def add(n: int) -> None:
        try:
            for i in range(20):
                store.add("127.0.0.1", f"user{n}", f"key-{n}-{i}", port=4064)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:3]
    assert all(len(store.sessions("127.0.0.1", f"user{n}")) == 20 for n in range(6))
