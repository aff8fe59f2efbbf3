"""`omero-profile status`: the stored sessions that serve each profile, alive or not, end to end against
the stand-in (real omero-py client, the real OMERO CLI's own `omero login` in-process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omero.cli import CLI
from session_helpers import ending_new_sessions
from timing_helpers import Pace

from omeroprofiles.sessionindex import SessionIndex
from omeroprofiles.sessionstore import SessionStore


@pytest.fixture(autouse=True)
def _end_sessions_left_open(omero_server):
    """Stored, shared and child sessions outlive their commands on purpose: end them for the next tests."""
    with ending_new_sessions(omero_server):
        yield

@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "sessions"
    monkeypatch.setenv("OMERO_SESSIONDIR", str(directory))
    return directory


def _profiles(server, write_user, extra: str = "") -> Path:
    alice = f'{{ source = "plain", username = "alice", password = "{server.users["alice"].password}" }}'
    return write_user(f"""
default = "alice"

[defaults]
host = "{server.host}"
port = {server.ssl_port}
timeout = 5
keepalive = 0

[profiles.alice]
credentials = {alice}

[profiles.shared-private]
share_session = true
group = "alice-private"
credentials = {alice}

[profiles.stored]
credentials = {{ source = "omero-login", username = "alice" }}

[profiles.token]
credentials = {{ source = "user-token", username = "alice" }}
{extra}""")


def _omero_login(server, user: str = "alice") -> str:
    """`omero login` by the OMERO CLI itself (its own store writer); returns the new session's key."""
    before = {s.key for s in SessionStore().sessions(server.host, user)}
    cli = CLI()
    cli.loadplugins()
    cli.invoke(["login", "-s", server.host, "-p", str(server.ssl_port), "-u", user, "-w",
                server.users[user].password, "-q"], strict=True)
    [key] = {s.key for s in SessionStore().sessions(server.host, user)} - before
    return key


def _status(run, *args: str):
    result = run("status", *args, "--json")
    return result.exit_code, json.loads(result.stdout), result


def _rows(data: dict, profile: str) -> list[dict]:
    [found] = [p for p in data["profiles"] if p["profile"] == profile]
    return found["sessions"]


def test_every_kind_of_session_is_listed_with_its_state(omero_server, write_user, store, run, monkeypatch, tmp_path):
    monkeypatch.setenv("OMERO_USER_TOKEN_DIR", str(tmp_path / "token"))
    _profiles(omero_server, write_user)
    by_cli = _omero_login(omero_server)
    assert run("login", "alice", "--user-token").exit_code == 0
    assert run("test", "shared-private").exit_code == 0  # makes and stores the shared session of that group
    assert run("env", "alice", "--session").exit_code == 0  # a child, handed out

    live = {s["uuid"] for s in omero_server.sessions()}
    code, data, result = _status(run, "--all")
    assert code == 0, result.stderr  # every profile has a live session that serves it
    assert {s["uuid"] for s in omero_server.sessions()} == live  # joined and detached: nothing ended, nothing left
    alice = {r["kind"]: r for r in _rows(data, "alice")}
    assert set(alice) == {"login", "foreign", "child"}
    assert alice["login"]["alive"] and alice["login"]["serves"] and alice["login"]["group"] == "lab-shared"
    assert alice["login"]["time_to_idle_s"] == omero_server.session_timeout
    assert alice["login"]["user_token"] == str(tmp_path / "token" / "token")
    assert alice["foreign"]["alive"] and not alice["foreign"]["serves"]  # `omero login`'s: listed, not counted
    assert alice["child"]["alive"] and alice["child"]["where"] == "held by the program it was handed to"
    assert alice["child"]["expires"] > time.time()
    shared = _rows(data, "shared-private")  # not alice's login: made in another group, it serves no share key here
    assert [(r["kind"], r["group"], r["alive"], r["serves"]) for r in shared] == \
        [("shared", "alice-private", True, True), ("foreign", "lab-shared", True, False)]
    stored = {r["kind"]: r["serves"] for r in _rows(data, "stored")}  # an omero-login profile joins any of them
    assert stored == {"login": True, "foreign": True, "shared": True}
    token = {r["kind"]: (r["serves"], r["alive"]) for r in _rows(data, "token")}
    assert token == {"foreign": (False, True), "token": (True, True)}
    where = {r["where"] for p in data["profiles"] for r in p["sessions"]}
    assert str(store / omero_server.host / "alice") in where
    text = run("status", "--all").stdout + json.dumps(data)
    assert by_cli not in text and all(s.key not in text for s in SessionStore().sessions(omero_server.host, "alice"))


def test_ended_sessions_are_reported_and_the_exit_code_says_none_is_usable(omero_server, write_user, store, run):
    _profiles(omero_server, write_user)
    assert run("login", "alice").exit_code == 0
    exported = run("env", "alice", "--session", "--shell", "bash")
    child = next(line.split("=", 1)[1] for line in exported.stdout.splitlines() if "OMERO_SESSION_KEY" in line)
    assert _status(run, "alice")[0] == 0
    [stored] = SessionStore().sessions(omero_server.host, "alice")
    assert omero_server.close_session(child)
    code, data, _ = _status(run, "alice")
    assert code == 0 and {r["kind"]: r["alive"] for r in _rows(data, "alice")} == {"login": True, "child": False}
    omero_server.close_session(stored.key)
    code, data, result = _status(run, "alice")
    assert code == 6, result.stderr
    assert [r["alive"] for r in _rows(data, "alice")] == [False, None]  # no live session left to ask about the child
    assert _rows(data, "alice")[1]["not_checked"] == "no live session of its user to ask from"
    assert "no usable session for: alice" in run("status", "alice").stderr
    assert SessionStore().sessions(omero_server.host, "alice")  # status reports; it never tidies the store


def test_offline_reads_the_stores_only_and_imports_no_omero(omero_server, write_user, store, run):
    _profiles(omero_server, write_user)
    assert run("login", "alice").exit_code == 0
    joins = omero_server.counters()["joins"]
    code, data, _ = _status(run, "--all", "--offline")
    assert code == 6  # 'token' has nothing stored
    assert [(r["kind"], r["alive"]) for r in _rows(data, "alice")] == [("login", None)]
    assert [p["usable"] for p in data["profiles"]] == [True, False, True, False]
    assert omero_server.counters()["joins"] == joins  # nothing was asked of the server
    code = ("import sys\nfrom omeroprofiles.cli import main\ntry:\n    main(['status', '--all', '--offline'])\n"
            "except SystemExit as e:\n    print(e.code, sorted(m for m in sys.modules if m.split('.')[0] in "
            "('omero', 'Ice', 'IceImport', 'Glacier2')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    assert done.stdout.strip().splitlines()[-1] == "6 []", done.stderr


def test_an_unreachable_server_is_exit_5_within_the_timeout_and_tried_once(write_user, store, run, silent_port):
    write_user(f"""
[profiles.gone]
host = "127.0.0.1"
port = {silent_port}
timeout = 1.5
credentials = {{ source = "omero-login", username = "alice" }}

[profiles.refused]
host = "127.0.0.1"
port = 1
timeout = 1.5
credentials = {{ source = "omero-login", username = "alice" }}
""")
    SessionStore().add("127.0.0.1", "alice", "00000009-0000-4000-8000-000000000000", port=1)
    pace = Pace()
    pace.measure(lambda: _status(run, "refused"))  # the same work, refused at once: the baseline
    for n in range(3):  # three stored sessions of a server that accepts and never answers
        SessionStore().add("127.0.0.1", "alice", f"0000000{n}-0000-4000-8000-000000000000", port=silent_port)
    started = time.monotonic()
    code, data, result = _status(run, "gone")
    elapsed = time.monotonic() - started
    assert code == 5, result.stderr
    assert "no answer within 1.5 s" in data["profiles"][0]["error"]
    rows = _rows(data, "gone")
    assert [r.get("not_checked") for r in rows] == ["the server did not answer"] * 3  # one wait, not three
    pace.check(elapsed, limit=1.5, idle_slack=2, what="status of an unreachable server")


def test_a_planted_session_of_another_user_is_refused_and_left_alone(omero_server, write_user, store, run):
    _profiles(omero_server, write_user)
    cli = CLI()
    cli.loadplugins()
    cli.invoke(["login", "-s", omero_server.host, "-p", str(omero_server.ssl_port), "-u", "bob", "-w",
                omero_server.users["bob"].password, "-q"], strict=True)
    [bobs] = SessionStore().sessions(omero_server.host, "bob")
    planted = SessionStore().add(omero_server.host, "alice", bobs.key, port=omero_server.ssl_port)
    code, data, result = _status(run, "stored")
    assert code == 6, result.stderr
    [row] = _rows(data, "stored")
    assert row["alive"] is False and "belongs to 'bob', not 'alice'" in row["refused"]
    assert planted.path.exists()  # status never removes anything
    assert bobs.key not in result.stdout + result.stderr


def test_a_group_writable_store_is_warned_about(omero_server, write_user, store, run):
    _profiles(omero_server, write_user)
    assert run("login", "alice").exit_code == 0
    store.chmod(0o770)
    result = run("status", "alice")
    assert result.exit_code == 0, result.stderr
    assert f"warning: the session store {store} is group-writable" in result.stdout
    assert "chmod g-w" in result.stdout
    store.chmod(0o777)
    result = run("status", "alice", "--json")
    assert result.exit_code == 6  # a store anyone may write is not read at all
    assert "anyone may write to it" in json.loads(result.stdout)["warnings"][0]


def test_all_reports_an_invalid_profile_with_its_code(omero_server, write_user, store, run):
    _profiles(omero_server, write_user, extra='\n[profiles.broken]\nextends = "nowhere"\n')
    assert run("login", "alice").exit_code == 0
    code, data, result = _status(run, "--all")
    broken = next(p for p in data["profiles"] if p["profile"] == "broken")
    assert broken["exit_code"] == 2 and "nowhere" in broken["error"]
    assert code == 6  # 'shared-private' comes first and has no session; the first failing profile's code
    assert run("status", "alice", "--all").exit_code == 2  # NAME and --all: usage error


def test_share_session_profiles_of_one_share_key_serve_each_other(omero_server, write_user, store, run):
    _profiles(omero_server, write_user, extra=f"""
[profiles.also-private]
share_session = true
group = "alice-private"
timeout = 7
credentials = {{ source = "plain", username = "alice", password = "{omero_server.users['alice'].password}" }}
""")
    assert run("test", "shared-private").exit_code == 0
    code, data, _ = _status(run, "also-private")
    assert code == 0 and [(r["kind"], r["serves"]) for r in _rows(data, "also-private")] == [("shared", True)]
    assert [m.profile for m in SessionIndex().entries()] == ["shared-private"]


def test_an_su_profiles_sessions_are_its_targets(omero_server, write_user, store, run):
    root = f'{{ source = "plain", username = "root", password = "{omero_server.users["root"].password}" }}'
    write_user(f"""
[profiles.as-bob]
host = "{omero_server.host}"
port = {omero_server.ssl_port}
timeout = 5
su = "bob"
credentials = {root}
""")
    assert run("login", "as-bob").exit_code == 0
    assert run("env", "as-bob", "--session").exit_code == 0
    code, data, result = _status(run, "as-bob")
    assert code == 0, result.stderr
    assert data["profiles"][0]["user"] == "bob"
    rows = {r["kind"]: r for r in _rows(data, "as-bob")}
    assert set(rows) == {"login", "child"}
    assert all(r["user"] == "bob" and r["su_by"] == "root" and r["alive"] for r in rows.values())
    assert rows["login"]["where"].endswith(f"/{omero_server.host}/bob")
