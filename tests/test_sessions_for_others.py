"""Sessions as other programs see them: child sessions for ezomero & co., logout scoped to the profile,
omero-user-token both ways, sharing per group across processes. Real processes, the real stand-in,
real ezomero and omero-user-token, the real OMERO CLI in-process."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from session_helpers import end_all, live, omero, omero_login

from omeroprofiles import connect
from omeroprofiles.sessionstore import SessionStore

EZOMERO_JOB = """
import ezomero
conn = ezomero.connect()
print(conn.getUser().getName(), conn.getGroupFromContext().getName(), conn._getSessionId() == conn.c.getSessionId())
conn.close()
"""


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "sessions"
    monkeypatch.setenv("OMERO_SESSIONDIR", str(directory))
    return directory


@pytest.fixture
def profiles(omero_server, write_user, store) -> Path:
    alice = f'{{ source = "plain", username = "alice", password = "{omero_server.users["alice"].password}" }}'
    root = f'{{ source = "plain", username = "root", password = "{omero_server.users["root"].password}" }}'
    return write_user(f"""
[defaults]
host = "{omero_server.host}"
port = {omero_server.ssl_port}
timeout = 10
keepalive = 0

[profiles.shared]
share_session = true
credentials = {alice}

[profiles.shared-private]
share_session = true
group = "alice-private"
credentials = {alice}

[profiles.alice]
credentials = {alice}

[profiles.alice-private]
group = "alice-private"
credentials = {alice}

[profiles.analyst]
share_session = true
credentials = {{ source = "env" }}

[profiles.admin]
credentials = {root}

[profiles.root-as-bob]
share_session = true
su = "bob"
credentials = {root}

[profiles.token]
credentials = {{ source = "user-token", username = "alice" }}
""")


def _exports(run, name: str, *more: str) -> dict[str, str]:
    result = run("env", name, "--session", "--shell", "bash", *more)
    assert result.exit_code == 0, result.stderr
    return dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in result.stdout.splitlines())


def _clean_env(home: Path, exports: dict[str, str]) -> dict[str, str]:
    """A fresh process's environment: no password anywhere, no OMERO_PROFILE, a HOME without .ezomero."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("OMERO")}
    exports = {k: v for k, v in exports.items() if k != "OMERO_PROFILE"}
    return {**keep, **exports, "HOME": str(home)}


@pytest.mark.parametrize("name, group", [("shared", "lab-shared"), ("shared-private", "alice-private")])
def test_ezomero_joins_a_child_with_no_password_and_its_close_ends_only_the_child(
        omero_server, profiles, store, run, tmp_path, name, group):
    exports = _exports(run, name)
    child = exports["OMERO_SESSION_KEY"]
    [shared] = [s.key for s in SessionStore().sessions(omero_server.host, "alice")]
    before = omero_server.counters()
    job = subprocess.run([sys.executable, "-c", EZOMERO_JOB], capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL, env=_clean_env(tmp_path, exports))
    assert job.returncode == 0, job.stderr
    assert job.stdout.split() == ["alice", group, "True"]
    assert omero_server.counters()["logins"] == before["logins"]  # joined: no password was used
    now = live(omero_server)
    assert child not in now  # ezomero's close() killed its own session...
    assert shared in now  # ...and only that: the shared one serves every other process still
    with connect(name) as conn:
        assert conn.c.getSessionId() == shared
    end_all(omero_server, "alice")


def test_plain_omero_py_uses_the_child_key(omero_server, profiles, store, run, tmp_path):
    exports = _exports(run, "shared", "--idle", "15m", "--ttl", "2h")
    job = subprocess.run([sys.executable, "-c", """
import os
from omero.gateway import BlitzGateway
conn = BlitzGateway(host=os.environ["OMERO_HOST"], port=int(os.environ["OMERO_PORT"]))
assert conn.connect(sUuid=os.environ["OMERO_SESSION_KEY"])
s = conn.getSession()
print(conn.getUser().getName(), s.getTimeToIdle().val, s.getTimeToLive().val)
conn.close(hard=False)
"""], capture_output=True, text=True, timeout=120, env=_clean_env(tmp_path, exports))
    assert job.returncode == 0, job.stderr
    assert job.stdout.split() == ["alice", str(15 * 60_000), str(2 * 3_600_000)]
    end_all(omero_server, "alice")


def test_logout_ends_what_the_profile_made_and_leaves_the_rest(omero_server, profiles, store, run):
    omero_login(omero_server)
    [by_cli] = [s.key for s in SessionStore().sessions(omero_server.host, "alice")]
    assert run("login", "alice").exit_code == 0
    assert run("login", "alice-private").exit_code == 0
    child = _exports(run, "shared")["OMERO_SESSION_KEY"]
    keys = {s.key: s.props.get("omero.group") for s in SessionStore().sessions(omero_server.host, "alice")}
    private = next(k for k, g in keys.items() if g == "alice-private")
    result = run("logout", "shared", "--json")
    assert result.exit_code == 0, result.stderr
    # the shared processes joined the session `login alice` made (same user, group, su): not made by "shared"
    assert [(r["kind"], r["ended"]) for r in json.loads(result.stdout)["sessions"]] == [("child", True)]
    assert child not in live(omero_server)
    result = run("logout", "alice")
    assert result.exit_code == 0 and "login session (omero-profile login for profile 'alice'" in result.stderr
    now = live(omero_server)
    assert by_cli in now and private in now  # `omero login`'s and another profile's: not this profile's
    result = run("logout", "alice", "--all", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "stored session (not made by omero-profiles" in result.stderr
    assert "login session (omero-profile login for profile 'alice-private'" in result.stderr
    assert live(omero_server) == set() and SessionStore().sessions(omero_server.host, "alice") == []


def test_logout_of_a_profile_without_a_username_never_ends_another_users_session(
        omero_server, profiles, store, run, monkeypatch):
    """The issue's repro: env source (OMERO_USER=alice), shared; then root logs in; logout analyst."""
    monkeypatch.setenv("OMERO_USER", "alice")
    monkeypatch.setenv("OMERO_PASSWORD", "alice-pw")
    child = _exports(run, "analyst")["OMERO_SESSION_KEY"]
    assert run("login", "admin").exit_code == 0
    [root_key] = [s.key for s in SessionStore().sessions(omero_server.host, "root")]
    result = run("logout", "analyst")
    assert result.exit_code == 0, result.stderr
    assert root_key in live(omero_server, "root")  # root's session, stored last: untouched
    assert live(omero_server, "alice") == set() and child not in live(omero_server)
    monkeypatch.delenv("OMERO_PASSWORD")
    assert run("logout", "admin").exit_code == 0
    assert live(omero_server, "root") == set()


def test_user_token_written_by_login_is_read_by_omero_user_token_and_removed_by_logout(
        omero_server, profiles, store, run, tmp_path, monkeypatch):
    token_dir = tmp_path / "tokens"
    monkeypatch.setenv("OMERO_USER_TOKEN_DIR", str(token_dir))
    result = run("login", "alice", "--user-token", "--idle", "1h", "--json")
    assert result.exit_code == 0, result.stderr
    token = token_dir / "token"
    assert json.loads(result.stdout)["user_token"] == str(token)
    assert stat.S_IMODE(token_dir.stat().st_mode) == 0o700 and stat.S_IMODE(token.stat().st_mode) == 0o600
    key, _, where = token.read_text().partition("@")
    assert where == f"{omero_server.host}:{omero_server.ssl_port}"
    assert key not in result.stdout + result.stderr
    glencoe = subprocess.run([sys.executable, "-c", """
import omero_user_token
client = omero_user_token.login(omero_user_token.get_token())
print(client.getSession().getAdminService().getEventContext().userName)
client.closeSession()
"""], capture_output=True, text=True, timeout=120, env=_clean_env(tmp_path, {"OMERO_USER_TOKEN_DIR": str(token_dir)}))
    assert glencoe.stdout.strip() == "alice", glencoe.stderr
    with connect("token") as conn:
        assert conn.joined and conn.c.getSessionId() == key
    assert run("logout", "alice").exit_code == 0
    assert not token.exists() and key not in live(omero_server)


def test_a_token_set_by_omero_user_token_is_joined_by_a_profile(omero_server, profiles, run, tmp_path, monkeypatch):
    token_dir = tmp_path / "glencoe"
    monkeypatch.setenv("OMERO_USER_TOKEN_DIR", str(token_dir))
    made = subprocess.run([sys.executable, "-c", f"""
import omero_user_token
print(omero_user_token.setter({omero_server.host!r}, {omero_server.ssl_port}, "alice", "alice-pw", 600000))
"""], capture_output=True, text=True, timeout=120, env=_clean_env(tmp_path, {"OMERO_USER_TOKEN_DIR": str(token_dir)}))
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().partition("@")[0]
    with connect("token") as conn:
        assert conn.c.getSessionId() == key and conn.getUser().getName() == "alice"
    assert key in live(omero_server)  # joined, detached on close
    omero_server.close_session(key)


def test_processes_over_two_groups_log_in_once_per_group(omero_server, profiles, store, tmp_path):
    worker = ("from omeroprofiles import connect\nimport sys\n"
              "with connect(sys.argv[1]) as conn:\n"
              "    direct = conn.c.sf.getAdminService().getEventContext()\n"
              "    print(conn.getGroupFromContext().getName(), direct.groupName)")
    before = omero_server.counters()
    names = ["shared", "shared-private"] * 6
    procs = [subprocess.Popen([sys.executable, "-c", worker, n], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for n in names]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    expected = {"shared": "lab-shared lab-shared", "shared-private": "alice-private alice-private"}
    assert [out.strip() for out, _ in outputs] == [expected[n] for n in names]
    assert omero_server.counters()["logins"] - before["logins"] == 2
    end_all(omero_server, "alice")


def test_a_joined_session_without_a_profile_group_runs_in_the_sessions_group_and_test_says_so(
        omero_server, write_user, store, run):
    write_user(f'[profiles.cli]\nhost = "{omero_server.host}"\nport = {omero_server.ssl_port}\ntimeout = 10\n'
               'credentials = { source = "omero-login", username = "alice" }\n')
    omero_login(omero_server)
    omero("sessions", "group", "alice-private")  # the OMERO CLI switches its session
    result = run("test", "cli")
    assert result.exit_code == 0, result.stderr
    assert "group:    alice-private (id " in result.stdout
    assert "the joined session's current group (the profile sets none)" in result.stdout
    with connect("cli") as conn:  # and that is where context-free calls go
        assert conn.c.sf.getAdminService().getEventContext().groupName == "alice-private"
    end_all(omero_server, "alice")


def test_an_su_profile_child_is_made_by_the_administrator_and_ended_by_logout(omero_server, profiles, store, run,
                                                                            tmp_path):
    """A real server refuses createUserSession from a session an administrator made for someone: the
    child of an su profile is made by the administrator (createSessionWithTimeouts) instead."""
    exports = _exports(run, "root-as-bob", "--idle", "20m")
    child = exports["OMERO_SESSION_KEY"]
    session = next(s for s in omero_server.sessions() if s["uuid"] == child)
    assert session["user"] == "bob" and session["time_to_idle_ms"] == 20 * 60_000
    job = subprocess.run([sys.executable, "-c", EZOMERO_JOB], capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL, env=_clean_env(tmp_path, exports))
    assert job.returncode == 0, job.stderr
    assert job.stdout.split()[0] == "bob"
    assert child not in live(omero_server, "bob")  # ended by ezomero's close, alone
    child = _exports(run, "root-as-bob")["OMERO_SESSION_KEY"]
    result = run("logout", "root-as-bob", "--json")
    assert result.exit_code == 0, result.stderr
    assert ("child", True) in {(r["kind"], r["ended"]) for r in json.loads(result.stdout)["sessions"]}
    assert live(omero_server, "bob") == set()


def test_env_session_for_a_profile_that_joins_by_key_is_refused_with_the_reason(omero_server, write_user, store, run):
    write_user(f'[profiles.cli]\nhost = "{omero_server.host}"\nport = {omero_server.ssl_port}\ntimeout = 10\n'
               'credentials = { source = "omero-login", username = "alice" }\n')
    omero_login(omero_server)
    result = run("env", "cli", "--session")
    assert result.exit_code == 7, result.stderr
    assert "makes child sessions only for a session opened with a password" in result.stderr
    assert "OMERO_SESSION_KEY" not in result.stdout
    end_all(omero_server, "alice")
