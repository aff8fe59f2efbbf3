"""Builtin credential sources fetch for real (env vars, files, real subprocesses); no secret leaks."""

from __future__ import annotations

import os
import sys

import pytest

from omeroprofiles import CredentialError, load_profile
from omeroprofiles.fetch import fetch_credentials


def _profile(write_user, credentials: str):
    write_user(f'[profiles.p]\nhost = "omero.example.org"\ncredentials = {credentials}\n')
    return load_profile("p")


def test_env_default_vars(write_user, monkeypatch):
    profile = _profile(write_user, '{ source = "env" }')
    monkeypatch.setenv("OMERO_USER", "ann")
    monkeypatch.setenv("OMERO_PASSWORD", "env-secret")
    creds = fetch_credentials(profile)
    assert creds.username == "ann" and creds.password.get_secret_value() == "env-secret"
    assert "env-secret" not in repr(creds) and "env-secret" not in str(creds)


def test_env_missing_names_the_variables(write_user, monkeypatch):
    profile = _profile(write_user, '{ source = "env", username_var = "MY_U", password_var = "MY_P" }')
    monkeypatch.setenv("MY_U", "ann")
    with pytest.raises(CredentialError, match=r"environment variable \$MY_P is not set") as info:
        fetch_credentials(profile)
    assert info.value.exit_code == 4


def test_env_session_key_var(write_user, monkeypatch):
    profile = _profile(write_user, '{ source = "env", session_key_var = "MY_KEY" }')
    monkeypatch.setenv("MY_KEY", "abc-123")
    assert fetch_credentials(profile).session_key.get_secret_value() == "abc-123"


def test_prompt_without_tty_fails_fast(write_user, monkeypatch):
    profile = _profile(write_user, '{ source = "prompt", username = "ann" }')
    with open(os.devnull) as not_a_tty:  # also when pytest runs with -s in a terminal
        monkeypatch.setattr("sys.stdin", not_a_tty)
        with pytest.raises(CredentialError, match="needs a terminal"):
            fetch_credentials(profile)


def test_command_json_and_bare_password(write_user, tmp_path):
    script = tmp_path / "creds.py"
    script.write_text('import json; print(json.dumps({"username": "cmd-user", "password": "cmd-secret"}))\n')
    profile = _profile(write_user, f'{{ source = "command", command = ["{sys.executable}", "{script}"] }}')
    creds = fetch_credentials(profile)
    assert (creds.username, creds.password.get_secret_value()) == ("cmd-user", "cmd-secret")

    bare = tmp_path / "bare.py"
    bare.write_text('print("bare-secret")\n')
    profile = _profile(write_user, f'{{ source = "command", command = "{sys.executable} {bare}", username = "u" }}')
    assert fetch_credentials(profile).password.get_secret_value() == "bare-secret"


@pytest.mark.parametrize(
    ("body", "timeout", "fragment"),
    [  # a command that ends gets all the time a busy machine needs to start Python; one that hangs, 0.5 s
        ("import sys; sys.exit(3)", 60, "failed with exit status 3"),
        ("print('{not json')", 60, "not valid JSON"),
        ("print('')", 60, "printed nothing"),
        ("import json; print(json.dumps({'username': 'u'}))", 60, "incomplete credentials"),
        ("import time; time.sleep(120)", 0.5, "did not finish within 0.5 s"),
    ],
)
def test_command_failures(write_user, tmp_path, body, timeout, fragment):
    script = tmp_path / "c.py"
    script.write_text(body + "\n")
    profile = _profile(write_user, f'{{ source = "command", command = ["{sys.executable}", "{script}"], '
                                   f'username = "u", timeout = {timeout} }}')
    with pytest.raises(CredentialError, match=fragment):
        fetch_credentials(profile)


def test_command_not_found(write_user):
    profile = _profile(write_user, '{ source = "command", command = "/nonexistent/bin/creds" }')
    with pytest.raises(CredentialError, match="was not found"):
        fetch_credentials(profile)


def test_session_key_from_env_and_file(write_user, monkeypatch):
    profile = _profile(write_user, '{ source = "session", key_var = "OMERO_SESSION_KEY" }')
    with pytest.raises(CredentialError, match=r"\$OMERO_SESSION_KEY"):
        fetch_credentials(profile)
    monkeypatch.setenv("OMERO_SESSION_KEY", "k-1")
    assert fetch_credentials(profile).session_key.get_secret_value() == "k-1"


def test_keyring_with_a_real_file_backend(write_user, tmp_path, monkeypatch):
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        profile = _profile(write_user, '{ source = "keyring", username = "ann" }')
        with pytest.raises(CredentialError, match="no keyring entry for service 'omero-profiles:omero.example.org'"):
            fetch_credentials(profile)
        keyring.set_password("omero-profiles:omero.example.org", "ann", "kr-secret")
        assert fetch_credentials(profile).password.get_secret_value() == "kr-secret"
    finally:
        keyring.set_keyring(previous)


def test_command_expires_as_epoch_or_iso(write_user, tmp_path):
    script = tmp_path / "c.py"
    for expires, expected in (('1900000000', 1900000000.0), ('"2030-03-01T12:00:00Z"', 1898596800.0)):
        script.write_text(f'print(\'{{"username": "u", "password": "p", "expires": {expires}}}\')\n')
        profile = _profile(write_user, f'{{ source = "command", command = ["{sys.executable}", "{script}"] }}')
        assert fetch_credentials(profile).expires_at == expected
    script.write_text('print(\'{"username": "u", "password": "p", "expires": "soon"}\')\n')
    with pytest.raises(CredentialError, match="neither seconds since the epoch nor an ISO 8601"):
        fetch_credentials(_profile(write_user, f'{{ source = "command", command = ["{sys.executable}", "{script}"] }}'))


def test_command_output_never_reaches_the_traceback(write_user, tmp_path):
    import traceback

    script = tmp_path / "c.py"
    script.write_text('print(\'{"password": "canary-pw-123"}\')\n')  # no username: invalid
    profile = _profile(write_user, f'{{ source = "command", command = ["{sys.executable}", "{script}"] }}')
    with pytest.raises(CredentialError) as info:
        fetch_credentials(profile)
    assert "canary-pw-123" not in "".join(traceback.format_exception(info.value))


def test_user_token_file(write_user, tmp_path, monkeypatch):
    token = tmp_path / "home" / ".omero_user_token" / "token"
    profile = _profile(write_user, '{ source = "user-token" }')  # host omero.example.org, port 4064
    with pytest.raises(CredentialError, match="no user token at") as missing:
        fetch_credentials(profile)
    assert "omero_user_token set -s omero.example.org -p 4064" in missing.value.hint
    token.parent.mkdir(parents=True)
    token.write_text("k-123@other.example.org:4064\n")
    with pytest.raises(CredentialError, match="is for other.example.org:4064, not omero.example.org:4064") as other:
        fetch_credentials(profile)
    assert "k-123" not in str(other.value)
    token.write_text("garbage")
    with pytest.raises(CredentialError, match="not a user token"):
        fetch_credentials(profile)
    token.write_text("k-123@omero.example.org:4064\n")
    credentials = fetch_credentials(profile)
    assert credentials.session_key.get_secret_value() == "k-123"
    assert "omero_user_token set" in credentials.rejected_hint


def test_a_password_that_is_not_unicode_is_exit_4_not_a_crash(omero_server, write_user, run):
    """A byte that is not UTF-8 in $OMERO_PASSWORD becomes a lone surrogate, which crashed Ice (SIGSEGV)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = write_user(f'[profiles.e]\nhost = "{omero_server.host}"\nport = {omero_server.ssl_port}\ntimeout = 10\n'
                      'credentials = { source = "env" }\n')
    env = {**os.environ, "OMERO_PROFILES_FILE": str(path), "OMERO_USER": "alice"}
    env_bytes = {k.encode(): v.encode() for k, v in env.items()}
    env_bytes[b"OMERO_PASSWORD"] = b"pw\xff"
    script = str(Path(sys.executable).with_name("omero-profile"))
    done = subprocess.run([script, "test", "e"], env=env_bytes, capture_output=True, text=True, timeout=120)
    assert done.returncode == 4, (done.returncode, done.stderr)
    assert "a password that is not valid Unicode text" in done.stderr


def test_a_user_name_with_a_newline_is_one_line_and_exit_4(omero_server, write_user, run, monkeypatch):
    write_user(f'[profiles.e]\nhost = "{omero_server.host}"\nport = {omero_server.ssl_port}\ntimeout = 10\n'
               'credentials = { source = "env" }\n')
    monkeypatch.setenv("OMERO_USER", "alice\nomero-profile: error: forged")
    monkeypatch.setenv("OMERO_PASSWORD", "alice-pw")
    result = run("test", "e")
    assert result.exit_code == 4
    assert [line for line in result.stderr.splitlines() if "error:" in line] == [
        "omero-profile: error: profile 'e': credential source 'env' gave a user name with a control character or "
        "surrounding spaces"]
