"""`omero-profile password set/delete/check` with real keyring backends (keyrings.alt's file backend,
and keyring's own `fail` backend for a system without a usable keyring)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keyring
import keyring.backend
import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring

from omeroprofiles import connect

SERVICE = "omero-profiles:127.0.0.1"


@pytest.fixture
def file_keyring(tmp_path: Path):
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def profiles(omero_server, write_user) -> Path:
    return write_user(f"""
[profiles.kr]
host = "{omero_server.host}"
port = {omero_server.ssl_port}
timeout = 10
credentials = {{ source = "keyring", username = "alice" }}

[profiles.plain]
host = "{omero_server.host}"
credentials = {{ source = "plain", username = "alice", password = "x" }}
""")


def test_set_check_connect_delete(profiles, file_keyring, run, omero_server, no_leaked_sessions):
    missing = run("password", "check", "kr")
    assert missing.exit_code == 4 and "not stored: password of 'alice'" in missing.stdout
    assert "hint: omero-profile password set kr" in missing.stderr
    stored = run("password", "set", "kr", "--stdin", input="alice-pw\n")
    assert stored.exit_code == 0, stored.stderr
    assert "alice-pw" not in stored.stdout + stored.stderr
    assert file_keyring.get_password(SERVICE, "alice") == "alice-pw"
    checked = json.loads(run("password", "check", "kr", "--json").stdout)
    assert checked == {"profile": "kr", "service": SERVICE, "username": "alice", "stored": True,
                       "backend": "keyrings.alt.file.PlaintextKeyring"}
    with connect("kr") as conn:
        assert conn.getUser().getName() == "alice"
    assert run("password", "delete", "kr").exit_code == 0
    assert file_keyring.get_password(SERVICE, "alice") is None
    again = run("password", "delete", "kr")
    assert again.exit_code == 4 and "no password of 'alice'" in again.stderr


def test_the_password_is_never_taken_from_argv_or_without_a_terminal(profiles, file_keyring, run):
    argv = run("password", "set", "kr", "alice-pw")
    assert argv.exit_code == 2 and "alice-pw" not in argv.stderr
    no_tty = run("password", "set", "kr", input="alice-pw\nalice-pw\n")  # CliRunner's stdin is not a TTY
    assert no_tty.exit_code == 2 and "pipe the value in with --stdin" in no_tty.stderr
    assert file_keyring.get_password(SERVICE, "alice") is None


def test_a_profile_that_does_not_use_the_keyring(profiles, file_keyring, run):
    result = run("password", "set", "plain", "--stdin", input="pw\n")
    assert result.exit_code == 2
    assert "takes its credentials from source 'plain', not the keyring" in result.stderr


def test_no_usable_backend_is_exit_4_with_the_fix(profiles, run):
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        for args, stdin in ((("password", "set", "kr", "--stdin"), "pw\n"), (("password", "check", "kr"), None),
                            (("test", "kr"), None)):
            result = run(*args, input=stdin)
            assert result.exit_code == 4, (args, result.stderr)
            assert "no usable keyring backend on this system" in result.stderr
            assert "keyrings.alt" in result.stderr and "another credentials source" in result.stderr
    finally:
        keyring.set_keyring(previous)


def test_the_installed_script_with_a_backend_chosen_by_environment(profiles, tmp_path):
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    script = [str(Path(sys.executable).with_name("omero-profile"))]
    done = subprocess.run([*script, "password", "set", "kr", "--stdin"], input="alice-pw\n", text=True,
                          capture_output=True, env=env)
    assert done.returncode == 0, done.stderr
    checked = subprocess.run([*script, "password", "check", "kr"], text=True, capture_output=True, env=env)
    assert checked.returncode == 0 and checked.stdout.startswith("stored:")
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    failed = subprocess.run([*script, "password", "check", "kr"], text=True, capture_output=True, env=env)
    assert failed.returncode == 4 and "no usable keyring backend" in failed.stderr


class _BrokenBackend(keyring.backend.KeyringBackend):
    """A real backend whose store fails the way D-Bus or a locked KWallet does: not a KeyringError,
    and with the secret it was handed in the exception text."""

    priority = 1

    def get_password(self, service, username):
        raise RuntimeError("org.freedesktop.DBus.Error.NoReply")

    def set_password(self, service, username, password):
        raise RuntimeError(f"could not store {password!r}")

    def delete_password(self, service, username):
        raise RuntimeError("org.freedesktop.DBus.Error.NoReply")


@pytest.fixture
def broken_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(_BrokenBackend())
    yield
    keyring.set_keyring(previous)


@pytest.mark.parametrize("args", [("password", "check", "kr"), ("password", "delete", "kr"),
                                  ("--debug", "password", "set", "kr", "--stdin")])
def test_a_keyring_backend_that_raises_is_exit_4_and_never_shows_the_password(profiles, broken_keyring, run, args):
    result = run(*args, input="canary-pw-7731\n")
    assert result.exit_code == 4, result.stderr
    assert "RuntimeError" in result.stderr
    assert "canary-pw-7731" not in result.stdout + result.stderr


def test_an_unknown_keyring_backend_named_in_the_environment_is_exit_4(profiles):
    script = str(Path(sys.executable).with_name("omero-profile"))
    for args in (["password", "check", "kr"], ["test", "kr"]):
        result = subprocess.run([script, *args], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "PYTHON_KEYRING_BACKEND": "no.such.Backend"})
        assert result.returncode == 4, result.stderr
        assert "Traceback" not in result.stderr
