"""login, logout and share_session through a server that freezes or dies after N requests.

What tests/test_faults.py checks for `test` and `groups`, for the commands that keep sessions:
every case ends with exit 0 or 5 (never 1: an unclassified Ice exception is a bug) within the
profile timeout plus two seconds (more on a busy machine, as there), and a login that failed leaves
nothing in the store.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_faults import PASSWORD, SLACK, TIMEOUT, _baseline, _in_threads, _profile_text, _users
from timing_helpers import Pace

from omeroprofiles import ProfileError, load_profile
from omeroprofiles.connection import establish_new
from omeroprofiles.credentials.omero_login import store_host
from omeroprofiles.login import detach, dispose
from omeroprofiles.sessionindex import SessionIndex, digest, made_now
from omeroprofiles.sessions import child_session, login, logout
from omeroprofiles.sessionstore import SessionStore
from omeroprofiles.shared import establish_shared

NS = range(1, 25)


def _share(profile) -> None:
    session = establish_shared(profile, open_new=establish_new)
    dispose(session.client, kill=False)


COMMANDS = {
    "login": lambda profile: login(profile),
    "login-ttl": lambda profile: login(profile, ttl=3600, idle=600),
    "shared": _share,
    "child": lambda profile: child_session(profile),
    "logout": lambda profile: logout(profile, everything=True),
    "logout-own": logout,  # what the profile made: a stored session, and a child found by listing
}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OMERO_SESSIONDIR", str(tmp_path / "store"))
    return tmp_path / "store"


def _outcome(name: str) -> tuple[int, float, str]:
    profile = load_profile(name)
    started = time.monotonic()
    try:
        COMMANDS[name.split("-f-")[0]](profile)
        code, message = 0, ""
    except ProfileError as exc:
        code, message = exc.exit_code, str(exc)
    except Exception as exc:  # noqa: BLE001 - exit 1: what the CLI calls a bug
        code, message = 1, repr(exc)
    return code, time.monotonic() - started, message


def test_login_logout_and_sharing_end_classified_within_the_timeout(start_omero_server, freezing_proxy, user_file,
                                                                    store):
    cases = [f"{command}-f-{n}" for command in COMMANDS for n in NS]
    server = start_omero_server(users=_users(cases))
    proxies = {case: freezing_proxy(server.tcp_port, after=int(case.rsplit("-", 1)[1])) for case in cases}
    user_file.parent.mkdir(parents=True, exist_ok=True)
    healthy = [f"direct-{i}" for i in range(8)]
    user_file.write_text("".join(_profile_text(case, proxies[case].port, keepalive=0, share_session="true"
                                               if case.startswith("shared") else "false") for case in cases) +
                         "".join(_profile_text(name, server.tcp_port, user=cases[i], keepalive=0)
                                 for i, name in enumerate(healthy)))
    for case in cases:  # logout has sessions to end: made on the server directly, stored for the proxy's host
        if case.startswith("logout"):
            direct = load_profile(case).model_copy(update={"host": f"tcp://127.0.0.1:{server.tcp_port}",
                                                           "port": server.tcp_port})
            keys = []
            for _ in range(2):
                session = establish_new(direct)
                keys.append(session.client.getSessionId())
                detach(session.client)
                dispose(session.client, kill=False)
            profile = load_profile(case)
            host = store_host(profile)
            SessionStore().add(host, case, keys[0], port=profile.port)
            for kind, key in zip(("login", "child"), keys, strict=True):
                SessionIndex().add(made_now(digest=digest(key), kind=kind, profile=case, host=host,
                                            port=profile.port, user=case))

    pace = Pace()
    _baseline(pace, healthy, workers=8)
    outcomes = _in_threads(_outcome, cases, workers=8, bound=pace.bound(TIMEOUT, SLACK))
    _baseline(pace, healthy, workers=8)
    bound = pace.bound(TIMEOUT, SLACK)

    problems = [f"{case}: exit {code} in {seconds:.2f} s (bound {bound:.2f} s) after {proxies[case].operations}: "
                f"{message}" for case, (code, seconds, message) in outcomes.items()
                if code not in (0, 5) or seconds > bound or PASSWORD in message]
    assert not problems, "\n".join(problems)
    assert {code for code, _, _ in outcomes.values()} == {0, 5}
    for case, (code, _, _) in outcomes.items():
        if case.startswith("login") and code != 0:
            profile = load_profile(case)
            assert SessionStore().sessions(store_host(profile), case) == [], case


def test_an_unusable_lock_path_for_a_shared_session_is_exit_2(omero_server, write_user, store, isolated_env, run):
    write_user(f"""
[profiles.shared]
host = "{omero_server.host}"
port = {omero_server.ssl_port}
share_session = true
credentials = {{ source = "plain", username = "alice", password = "{omero_server.users["alice"].password}" }}
""")
    locks = isolated_env / ".local" / "state" / "omero-profiles" / "locks"
    locks.parent.mkdir(parents=True)
    locks.write_text("not a directory")
    result = run("env", "shared", "--session")
    assert result.exit_code == 2, result.stderr
    assert "not a directory" in result.stderr
    locks.unlink()
    locks.mkdir()
    result = run("env", "shared", "--session")  # makes the lock file, then joins
    assert result.exit_code == 0, result.stderr
    [lock] = locks.glob("share-*.lock")
    [shared] = SessionStore().sessions(omero_server.host, "alice")
    SessionStore().remove(shared)
    assert omero_server.close_session(shared.key)
    lock.unlink()
    lock.mkdir()
    result = run("env", "shared", "--session")
    assert result.exit_code == 2, result.stderr
    assert str(lock) in result.stderr and "Traceback" not in result.stderr
    assert SessionStore().sessions(omero_server.host, "alice") == []
