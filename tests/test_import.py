"""`omero-profile import`: `omero login` history, ezomero's settings and the guide's OMERO_* variables
become profiles (through the comment-keeping editor), end to end: the imported profiles connect to the
stand-in; a password is never written to the file; an existing profile is never replaced."""

from __future__ import annotations

import sys
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring
from omero.cli import CLI
from session_helpers import ending_new_sessions

from omeroprofiles.files import tomllib

EXISTING = """# my profiles: this comment must survive an import
[defaults]
timeout = 5  # seconds
keepalive = 0

[profiles.mine]
host = "example.org"  # not touched
"""



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


@pytest.fixture
def file_keyring(tmp_path: Path):
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def _omero_login(server, user: str) -> None:
    cli = CLI()
    cli.loadplugins()
    cli.invoke(["login", "-s", server.host, "-p", str(server.ssl_port), "-u", user, "-w",
                server.users[user].password, "-q"], strict=True)


def _profiles(user_file: Path) -> dict:
    return tomllib.loads(user_file.read_text())["profiles"]


def test_omero_login_history_becomes_omero_login_profiles_that_connect(omero_server, store, write_user, user_file,
                                                                       run):
    write_user(EXISTING)
    _omero_login(omero_server, "alice")
    _omero_login(omero_server, "bob")
    h, p = omero_server.host, omero_server.ssl_port
    n = h.replace(".", "-")  # a name people type, a bare TOML key

    dry = run("import", "--from", "omero-sessions", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    shown = tomllib.loads(dry.stdout)["profiles"]
    assert shown == {f"{n}-alice": {"description": f"imported from omero login (alice on {h})", "host": h, "port": p,
                                    "credentials": {"source": "omero-login", "username": "alice"}},
                     f"{n}-bob": {"description": f"imported from omero login (bob on {h})", "host": h, "port": p,
                                  "credentials": {"source": "omero-login", "username": "bob"}}}
    assert user_file.read_text() == EXISTING  # a dry run writes nothing

    done = run("import", "--from", "omero-sessions")
    assert done.exit_code == 0, done.stderr
    text = user_file.read_text()
    assert text.startswith(EXISTING)  # comments and layout kept; the new tables follow
    assert set(_profiles(user_file)) == {"mine", f"{n}-alice", f"{n}-bob"}
    assert f"[profiles.{n}-alice]" in text
    for user in ("alice", "bob"):
        tested = run("test", f"{n}-{user}", "--json")
        assert tested.exit_code == 0, tested.stderr
        assert '"joined_session": true' in tested.stdout and f'"name": "{user}"' in tested.stdout

    again = run("import", "--from", "omero-sessions")
    assert again.exit_code == 2
    assert f"profile '{n}-alice' already exists in {user_file}" in again.stderr
    assert "--prefix" in again.stderr and user_file.read_text() == text  # nothing replaced, nothing added
    prefixed = run("import", "--from", "omero-sessions", "--prefix", "lab-")
    assert prefixed.exit_code == 0, prefixed.stderr
    assert {f"lab-{n}-alice", f"lab-{n}-bob"} <= set(_profiles(user_file))


def test_one_user_on_two_ports_gets_the_port_in_the_name(store, write_user, run):
    from omeroprofiles.sessionstore import SessionStore

    write_user("")
    SessionStore().add("omero.example.org", "ann", "11111111-0000-4000-8000-000000000000", port=4064)
    SessionStore().add("omero.example.org", "ann", "22222222-0000-4000-8000-000000000000", port=14064)
    SessionStore().add("wss://web.example.org/omero-ws", "ann", "33333333-0000-4000-8000-000000000000", port=443)
    result = run("import", "--from", "omero-sessions", "--dry-run")
    assert result.exit_code == 0, result.stderr
    shown = tomllib.loads(result.stdout)["profiles"]
    assert set(shown) == {"omero-example-org-4064", "omero-example-org-14064", "web-example-org"}
    web = shown["web-example-org"]
    assert web["host"] == "wss://web.example.org/omero-ws" and "port" not in web  # the URL says the port


def _ezomero_settings(directory: Path, server) -> None:
    """Written by ezomero itself."""
    import ezomero

    ezomero.store_connection_params(user="alice", group="alice-private", host=server.host, port=server.ssl_port,
                                    secure=True, config_path=str(directory))


def test_ezomero_settings_become_a_profile_and_its_password_stays_in_the_environment(
        omero_server, write_user, user_file, run, tmp_path, monkeypatch):
    write_user(EXISTING)
    _ezomero_settings(tmp_path, omero_server)
    password = omero_server.users["alice"].password
    monkeypatch.setenv("OMERO_PASS", password)
    result = run("import", "--from", "ezomero", "--path", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert "$OMERO_PASS is set: not copied" in result.stderr
    [name] = set(_profiles(user_file)) - {"mine"}
    assert name == omero_server.host.replace(".", "-")
    assert _profiles(user_file)[name] == {
        "description": f"imported from ezomero ({tmp_path / '.ezomero'})", "host": omero_server.host,
        "port": omero_server.ssl_port, "secure": True, "group": "alice-private",
        "credentials": {"source": "env", "password_var": "OMERO_PASS", "username": "alice"}}
    assert password not in user_file.read_text()
    tested = run("test", name, "--json")
    assert tested.exit_code == 0 and '"name": "alice-private"' in tested.stdout, tested.stderr


def test_password_to_keyring_moves_the_password_out_of_the_environment_into_the_keyring(
        omero_server, write_user, user_file, run, tmp_path, monkeypatch, file_keyring):
    write_user("")
    _ezomero_settings(tmp_path, omero_server)
    password = omero_server.users["alice"].password
    monkeypatch.setenv("OMERO_PASS", password)
    result = run("import", "--from", "ezomero", "--path", str(tmp_path), "--password-to-keyring", "--name", "lab")
    assert result.exit_code == 0, result.stderr
    assert "Stored the password from $OMERO_PASS in the keyring" in result.stderr
    assert _profiles(user_file)["lab"]["credentials"] == {"source": "keyring", "username": "alice"}
    assert password not in user_file.read_text()
    assert file_keyring.get_password(f"omero-profiles:{omero_server.host}", "alice") == password
    monkeypatch.delenv("OMERO_PASS")
    assert run("test", "lab").exit_code == 0


def test_the_guides_environment_variables_become_a_profile(omero_server, write_user, user_file, run, monkeypatch):
    write_user(EXISTING)
    monkeypatch.setenv("OMERO_HOST", omero_server.host)
    monkeypatch.setenv("OMERO_PORT", str(omero_server.ssl_port))
    monkeypatch.setenv("OMERO_USER", "bob")
    monkeypatch.setenv("OMERO_PASSWORD", omero_server.users["bob"].password)
    dry = run("import", "--from", "env", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert tomllib.loads(dry.stdout)["profiles"][omero_server.host.replace(".", "-")] == {
        "description": "imported from env (the environment)", "host": omero_server.host,
        "port": omero_server.ssl_port, "credentials": {"source": "env"}}
    assert "$OMERO_PASSWORD is set: not copied" in dry.stderr
    assert run("import", "--from", "env", "--name", "guide").exit_code == 0
    assert omero_server.users["bob"].password not in user_file.read_text()
    tested = run("test", "guide", "--json")
    assert tested.exit_code == 0 and '"name": "bob"' in tested.stdout


@pytest.mark.parametrize(("args", "env", "said"), [
    (["--from", "env"], {}, "$OMERO_HOST is not set"),
    (["--from", "env"], {"OMERO_HOST": "h", "OMERO_PORT": "forty"}, "OMERO_PORT 'forty' is not a port number"),
    (["--from", "env"], {"OMERO_HOST": "h", "OMERO_SECURE": "maybe"}, "neither True nor False"),
    (["--from", "env"], {"OMERO_HOST": "user:pw@h"}, "must not contain a user name or password"),
    (["--from", "env", "--password-to-keyring"], {"OMERO_HOST": "h", "OMERO_USER": "u"}, "$OMERO_PASSWORD not set"),
    (["--from", "ezomero", "--path", "{tmp}/none"], {}, "no such file"),
    (["--from", "ezomero"], {}, "no OMERO_HOST to import"),
    (["--from", "omero-sessions"], {}, "no OMERO CLI session store here"),
    (["--from", "omero-sessions", "--path", "x"], {}, "--path is for --from ezomero"),
    (["--from", "env", "--name", "a", "--prefix", "b"], {"OMERO_HOST": "h"}, "--name or --prefix"),
    (["--from", "env", "--name", "defaults"], {"OMERO_HOST": "h"}, "reserved"),
])
def test_bad_input_is_exit_2_with_the_reason_and_writes_nothing(write_user, user_file, run, tmp_path, monkeypatch,
                                                                args, env, said):
    write_user(EXISTING)
    monkeypatch.setenv("OMERO_SESSIONDIR", str(tmp_path / "no-store"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = run("import", *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert said in result.stderr
    assert user_file.read_text() == EXISTING


def test_a_password_in_the_ezomero_file_is_named_and_never_imported(write_user, user_file, run, tmp_path):
    write_user("")
    (tmp_path / ".ezomero").write_text("[DEFAULT]\nomero_user = ann\nomero_host = omero.example.org\n"
                                       "omero_port = 4064\nomero_secure = True\nomero_group = \n"
                                       "omero_pass = in-the-file-pw\n")
    result = run("import", "--from", "ezomero", "--path", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert "holds OMERO_PASS: not imported" in result.stderr
    assert "in-the-file-pw" not in user_file.read_text() + result.stdout + result.stderr
    profile = _profiles(user_file)["omero-example-org"]
    assert profile["credentials"] == {"source": "prompt", "username": "ann"} and "group" not in profile


def test_the_default_ezomero_file_is_in_the_home_directory(write_user, user_file, run, isolated_env):
    write_user("")
    (isolated_env / ".ezomero").write_text("[DEFAULT]\nOMERO_HOST = omero.example.org\nOMERO_PORT = 4064\n")
    assert run("import", "--from", "ezomero").exit_code == 0
    assert "omero-example-org" in _profiles(user_file)


def test_import_never_imports_omero(write_user, tmp_path):
    """Offline: reading stores and files needs no omero-py (the command starts fast)."""
    import os
    import subprocess

    write_user("")
    env = {**os.environ, "OMERO_HOST": "omero.example.org"}
    code = ("import sys\nfrom omeroprofiles.cli import main\ntry:\n    main(['import', '--from', 'env'])\n"
            "except SystemExit as e:\n"
            "    print(e.code, [m for m in sys.modules if m.split('.')[0] in ('omero', 'Ice')])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr
