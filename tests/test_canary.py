"""A canary password and a canary session key, through every command, failure path and --debug run.

The canaries must never appear in stdout, stderr, a (chained) traceback, or any file we write
(state, locks, the OMERO session store, caches). The only files allowed to hold them are the ones
the test itself wrote for a source to read (a password file for the `command` source, a keyring).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from omeroprofiles import ProfileError, get_conn
from omeroprofiles.fetch import forget_all

PASSWORD = "canary-pw-7f3e9a"
KEY = "c4a7a2e0-canary-0000-0000-5e55101c0de5"


@pytest.fixture(scope="module")
def canary_server():
    """A private server where alice's password is the canary (alice is an admin, so su works too)."""
    from omero_standin import running_server

    users = {"users": {"alice": {"password": PASSWORD, "groups": ["lab-shared", "alice-private"], "admin": True},
                       "bob": {"password": "bob-pw", "groups": ["bob-private"]}}}
    with running_server(users, ws=False, wss=False) as server:
        yield server


@pytest.fixture
def world(canary_server, write_user, tmp_path, monkeypatch, isolated_env):
    """Profiles whose secrets come from everywhere but the profiles file."""
    omero_server = canary_server
    monkeypatch.setenv("OMERO_SESSIONDIR", str(tmp_path / "sessions"))
    monkeypatch.setenv("OMERO_USER", "alice")
    monkeypatch.setenv("OMERO_PASSWORD", PASSWORD)
    monkeypatch.setenv("CANARY_KEY", KEY)
    monkeypatch.setenv("OMERO_HOST", omero_server.host)  # for `import --from env`
    monkeypatch.setenv("OMERO_PORT", str(omero_server.ssl_port))
    secret_file = tmp_path / "given" / "pw"
    secret_file.parent.mkdir()
    secret_file.write_text(PASSWORD)
    printer = tmp_path / "given" / "print.py"
    printer.write_text(f"import sys; print(open({str(secret_file)!r}).read())\n")
    bad_json = tmp_path / "given" / "bad.py"
    bad_json.write_text(f"print('{{\"password\": \"' + open({str(secret_file)!r}).read() + '\"}}')\n")
    garbled = tmp_path / "given" / "garbled.py"
    garbled.write_text(f"print('{{\"username\": \"alice\", \"password\": ' + open({str(secret_file)!r}).read())\n")
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "given" / "keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    backend.set_password(f"omero-profiles:{omero_server.host}", "alice", PASSWORD)
    h, p = omero_server.host, omero_server.ssl_port
    py = sys.executable
    write_user(f"""
default = "env"

[defaults]
host = "{h}"
port = {p}
timeout = 5
keepalive = 0

[profiles.env]
credentials = {{ source = "env" }}

[profiles.env-private]
extends = "env"
group = "alice-private"

[profiles.env-not-member]
extends = "env"
group = "no-such-group"

[profiles.env-unreachable]
extends = "env"
port = 1

[profiles.env-as-bob]
extends = "env"
su = "bob"

[profiles.env-shared]
extends = "env"
share_session = true

[profiles.command]
credentials = {{ source = "command", command = ["{py}", "{printer}"], username = "alice" }}

[profiles.command-bad-json]
credentials = {{ source = "command", command = ["{py}", "{bad_json}"] }}

[profiles.command-garbled]
credentials = {{ source = "command", command = ["{py}", "{garbled}"] }}

[profiles.keyring]
credentials = {{ source = "keyring", username = "alice" }}

[profiles.dead-key]
credentials = {{ source = "session", key_var = "CANARY_KEY" }}

[profiles.dead-key-alice]
credentials = {{ source = "session", key_var = "CANARY_KEY", username = "alice" }}

[profiles.token]
credentials = {{ source = "user-token", username = "alice" }}

[profiles.stored]
credentials = {{ source = "omero-login", username = "alice" }}
""")
    yield tmp_path
    keyring.set_keyring(previous)


def _assert_clean(text: str, where: str) -> None:
    assert PASSWORD not in text, f"the canary password is in {where}"
    assert KEY not in text, f"the canary session key is in {where}"


def _written_files_are_clean(root: Path) -> None:
    allowed = {root / "given"}
    for path in root.rglob("*"):
        if path.is_file() and not any(a in path.parents for a in allowed):
            data = path.read_bytes()
            assert PASSWORD.encode() not in data and KEY.encode() not in data, f"a canary is in {path}"


COMMANDS = [
    (("test", "stored"), 6),  # nothing stored yet
    (("list",), 0), (("list", "--json"), 0), (("show", "env"), 0), (("show", "command", "--json"), 0),
    (("validate",), 0), (("validate", "--json"), 0), (("current",), 0), (("path",), 0), (("plugins",), 0),
    (("test", "env"), 0), (("test", "env", "--json"), 0), (("groups", "env-private"), 0),
    (("test", "env-as-bob"), 0), (("test", "env-shared"), 0), (("test", "command"), 0), (("test", "keyring"), 0),
    (("test", "env-not-member"), 7), (("test", "env-unreachable"), 5), (("test", "env", "--su", "nobody"), 7),
    (("test", "command-bad-json"), 4), (("test", "command-garbled"), 4), (("test", "dead-key"), 6),
    (("groups", "dead-key"), 6), (("env", "env"), 0), (("env", "env-shared", "--session"), 0),
    (("password", "check", "keyring"), 0), (("status", "env"), 6),
    (("doctor", "stored"), 0),  # it joins the shared session `test env-shared` stored
    (("login", "env", "--json"), 0), (("test", "stored"), 0),
    (("status", "env"), 0), (("status", "stored", "--json"), 0), (("status", "--all", "--offline"), 6),
    (("status", "--all"), 6), (("doctor", "env"), 0), (("doctor", "stored", "--json"), 0), (("doctor", "keyring"), 0),
    (("doctor", "env-as-bob"), 0), (("doctor", "env-shared"), 0), (("doctor", "env-unreachable"), 5),
    (("doctor", "command-garbled"), 4), (("doctor", "command-bad-json", "--json"), 4), (("doctor", "dead-key"), 6),
    (("doctor", "dead-key-alice"), 6), (("doctor", "env-not-member"), 7), (("doctor", "env", "--su", "x"), 2),
    (("import", "--from", "env", "--dry-run"), 0), (("import", "--from", "env", "--name", "imported"), 0),
    (("import", "--from", "env", "--name", "imported"), 2), (("test", "imported"), 0),
    (("import", "--from", "env", "--name", "imported-kr", "--password-to-keyring"), 0), (("test", "imported-kr"), 0),
    (("import", "--from", "omero-sessions", "--prefix", "s-"), 0), (("status", "s-" + "127-0-0-1"), 0),
    (("logout", "env"), 0), (("login", "env", "--user-token"), 0), (("test", "token"), 0),
    (("logout", "env-shared", "--json"), 0), (("logout", "env", "--all", "--yes"), 0), (("test", "token"), 4),
    (("test", "dead-key-alice"), 6), (("set", "env", "description", "x"), 0), (("use", "keyring"), 0),
    (("unset", "env", "description"), 0), (("set", "env", "credentials.password", PASSWORD), 2),
    (("add", "x", "--host", "h", "--source", "plain", "--cred", f"password={PASSWORD}"), 2),
    (("password", "set", "keyring", PASSWORD), 2),
]


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_no_command_leaks_a_canary(world, run, debug):
    for args, expected in COMMANDS:
        forget_all()
        argv = (["--debug"] if debug else []) + list(args)
        result = run(*argv)
        assert result.exit_code == expected, (argv, result.stdout, result.stderr)
        shown = [a for a in argv if a not in (PASSWORD, f"password={PASSWORD}")]
        _assert_clean(result.stdout + result.stderr, " ".join(shown))
    _written_files_are_clean(world)


@pytest.mark.parametrize("name", ["env-not-member", "env-unreachable", "command-bad-json", "command-garbled",
                                  "dead-key", "stored"])
def test_no_exception_chain_holds_a_canary(world, name):
    forget_all()
    with pytest.raises(ProfileError) as info:
        get_conn(name)
    _assert_clean("".join(traceback.format_exception(info.value)), f"the traceback of get_conn({name!r})")
    _assert_clean(repr(info.value) + str(info.value.hint), "the exception")


def test_a_wrong_canary_password_is_exit_6_and_never_shown(world, run, monkeypatch):
    monkeypatch.setenv("OMERO_PASSWORD", PASSWORD + "-wrong")
    for argv in (["test", "env"], ["--debug", "test", "env"], ["--debug", "login", "env"]):
        forget_all()
        result = run(*argv)
        assert result.exit_code == 6, result.stderr
        assert PASSWORD not in result.stdout + result.stderr
    _written_files_are_clean(world)


def test_debug_logging_never_shows_a_live_session_key(world, canary_server):
    """omero-py's debug log prints the session key (omero.session.uuid); --debug shows library logs, masked."""
    import os
    import subprocess

    from omeroprofiles.sessionstore import SessionStore

    cli = [sys.executable, "-m", "omeroprofiles", "--debug"]
    done = subprocess.run([*cli, "login", "env"], capture_output=True, text=True, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    [stored] = SessionStore().sessions(canary_server.host, "alice")
    output = done.stdout + done.stderr
    for args in (["test", "stored"], ["groups", "stored"], ["test", "env-shared"], ["logout", "env"]):
        ran = subprocess.run([*cli, *args], capture_output=True, text=True, env=os.environ.copy())
        assert ran.returncode == 0, (args, ran.stderr)
        output += ran.stdout + ran.stderr
    assert "DEBUG omero" in output  # the library's debug log really was shown
    assert stored.key not in output
    assert "<uuid>" in output
    _assert_clean(output, "--debug logging")
