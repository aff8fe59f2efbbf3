"""`omero profile` inside the OMERO CLI, as installing the omero-profiles wheel provides it.

The OMERO CLI loads every module of an ``omero/plugins`` directory on its path. The module fixture
builds the wheel from this checkout and unpacks it (what pip does), so the tests load the plugin
exactly where an install puts it. Most tests drive the OMERO CLI in-process (``CLI().loadplugins();
cli.invoke([...], strict=True)``: the ``omero`` script refuses to run as root, and tests run as
root here); one runs the real ``omero`` script as an unprivileged user: as root, through
``setpriv --reuid 65534`` (nobody) with a HOME of its own; as anyone else, directly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from omero.cli import CLI, NonZeroReturnCode
from session_helpers import ending_new_sessions

from omeroprofiles.cli import cli as profile_cli
from omeroprofiles.omero_cli import COMMANDS
from omeroprofiles.sessionstore import SessionStore

ROOT = Path(__file__).resolve().parents[1]
NOBODY = 65534



@pytest.fixture(autouse=True)
def _end_sessions_left_open(omero_server):
    """Stored, shared and child sessions outlive their commands on purpose: end them for the next tests."""
    with ending_new_sessions(omero_server):
        yield

@pytest.fixture(scope="module")
def installed() -> Path:
    """The omero-profiles wheel, built from this checkout and unpacked as pip would: a site directory."""
    work = Path(tempfile.mkdtemp(prefix="omero-profiles-wheel-"))
    source = work / "source"
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, text=True, check=True)
    for name in listed.stdout.splitlines():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                    str(work), str(source)], check=True, capture_output=True)
    wheel = next(work.glob("omero_profiles-*.whl"))
    site = work / "site"
    zipfile.ZipFile(wheel).extractall(site)
    for path in [work, *work.rglob("*")]:  # readable by the unprivileged user of the last test
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield site
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def omero(installed: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh in-process OMERO CLI with its plugins loaded from sys.path (ours from the unpacked wheel)."""
    monkeypatch.setattr(sys, "path", [*sys.path, str(installed)])

    def make() -> CLI:
        cli = CLI()
        cli.loadplugins()
        return cli

    return make


@pytest.fixture
def profiles(omero_server, write_user, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("OMERO_SESSIONDIR", str(tmp_path / "sessions"))
    return write_user(_profiles_text(omero_server))


def _profiles_text(server) -> str:
    alice = f'{{ source = "plain", username = "alice", password = "{server.users["alice"].password}" }}'
    return f"""
default = "alice"

[defaults]
host = "{server.host}"
port = {server.ssl_port}
timeout = 5
keepalive = 0

[profiles.alice]
credentials = {alice}

[profiles.alice-private]
group = "alice-private"
credentials = {alice}

[profiles.not-member]
group = "bob-private"
credentials = {alice}

[profiles.wrong-password]
credentials = {{ source = "plain", username = "alice", password = "not-the-password" }}

[profiles.unreachable]
port = 1
credentials = {alice}

[profiles.stored]
credentials = {{ source = "omero-login", username = "alice" }}
"""


def _rc(cli: CLI, *args: str) -> int:
    try:
        cli.invoke(list(args), strict=True)
    except NonZeroReturnCode as exc:
        return exc.rv
    return 0


def test_the_wheel_puts_the_plugin_where_the_omero_cli_looks(installed):
    assert (installed / "omero" / "plugins" / "profile.py").is_file()
    assert not (installed / "omero" / "__init__.py").exists()  # omero-py owns the package; we add one module
    assert not (installed / "omero" / "plugins" / "__init__.py").exists()


def test_help_is_in_the_omero_clis_style(omero, profiles, capsys):
    cli = omero()
    assert "profile" in cli.controls
    assert _rc(cli, "profile", "-h") == 0
    shown = capsys.readouterr().out
    assert "Subcommands:" in shown and "Optional Arguments:" in shown and "<subcommand>" in shown
    for name in COMMANDS:
        assert f"\n    {name} " in shown, name
    assert "omero profile login prod" in shown
    assert _rc(cli, "profile", "login", "-h") == 0
    shown = capsys.readouterr().out
    for option in ("--idle DURATION", "--ttl DURATION", "--user-token", "--show-key", "--json", "--config PATH"):
        assert option in shown, option
    assert "Positional Arguments:" in shown and "NAME" in shown


def test_every_subcommand_takes_the_same_options_as_omero_profile(omero):

    cli = omero()
    parser = cli.controls["profile"].parser
    [subparsers] = [a for a in parser._actions if isinstance(getattr(a, "choices", None), dict)]  # omero_ext.argparse
    for name in COMMANDS:
        ours = {s for a in subparsers.choices[name]._actions for s in a.option_strings} - {"-h", "--help", "--config"}
        theirs = {s for p in profile_cli.commands[name].params for s in (*p.opts, *getattr(p, "secondary_opts", []))
                  if s.startswith("-")} - {"-h", "--help"}
        assert ours == theirs, name


@pytest.mark.parametrize(("args", "code"), [
    (("list",), 0), (("show", "alice"), 0), (("current",), 0), (("use", "alice-private"), 0), (("use",), 2),
    (("show", "nope"), 3), (("test", "alice"), 0), (("test", "alice", "--group", "alice-private", "--json"), 0),
    (("test", "unreachable"), 5), (("test", "wrong-password"), 6), (("test", "not-member"), 7),
    (("test", "alice", "--timeout", "soon"), 2), (("status", "stored"), 6), (("doctor", "not-member"), 7),
    (("logout", "alice"), 0),
])
def test_exit_codes_are_omero_profiles(omero, profiles, run, args, code):
    assert run(*args).exit_code == code
    assert _rc(omero(), "profile", *args) == code


def test_login_stores_the_session_the_following_omero_commands_use(omero, profiles, omero_server, capsys):
    assert _rc(omero(), "profile", "login", "alice") == 0
    assert "Logged in to" in capsys.readouterr().out
    [stored] = SessionStore().sessions(omero_server.host, "alice")
    cli = omero()  # the next `omero ...` command: a new CLI, no password given
    assert _rc(cli, "sessions", "group", "alice-private") == 0
    assert next(s for s in omero_server.sessions() if s["uuid"] == stored.key)["group"] == "alice-private"
    assert _rc(omero(), "profile", "status", "alice", "--json") == 0
    assert _rc(omero(), "profile", "logout", "alice") == 0
    assert stored.key not in {s["uuid"] for s in omero_server.sessions()}
    assert SessionStore().sessions(omero_server.host, "alice") == []


def test_the_omero_script_as_a_non_root_user(installed, omero_server):
    """The real `omero` console script (it refuses root), as uid 65534 when the tests run as root."""
    home = Path(tempfile.mkdtemp(prefix="omero-profile-nobody-"))
    try:
        config = home / ".config" / "omero-profiles" / "profiles.toml"
        config.parent.mkdir(parents=True)
        config.write_text(_profiles_text(omero_server))
        prefix: list[str] = []
        if os.getuid() == 0:
            setpriv = shutil.which("setpriv")
            assert setpriv, "running as root, and setpriv (util-linux) is not there to drop to another user"
            prefix = [setpriv, "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]
            for path in [home, *home.rglob("*")]:
                os.chown(path, NOBODY, NOBODY)
        env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(installed),
               "LANG": "C.UTF-8"}
        script = Path(sys.executable).parent / "omero"

        if prefix:
            _startable_by_another_user(prefix, env)

        def omero(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([*prefix, sys.executable, str(script), *args], env=env, capture_output=True,
                                  text=True, stdin=subprocess.DEVNULL, timeout=120)

        assert omero("profile", "current").stdout.strip().startswith("alice")
        done = omero("profile", "login", "alice")
        assert done.returncode == 0, done.stderr
        assert "FATAL" not in done.stderr
        sessions = home / "omero" / "sessions" / omero_server.host / "alice"  # the OMERO CLI's default store
        [key] = [p.name for p in sessions.iterdir() if not p.name.startswith(".")]
        if prefix:
            assert sessions.stat().st_uid == NOBODY
        done = omero("sessions", "group", "alice-private")  # no password: it joins the stored session
        assert done.returncode == 0, done.stderr
        assert next(s for s in omero_server.sessions() if s["uuid"] == key)["group"] == "alice-private"
        assert omero("profile", "test", "not-member").returncode == 7
        done = omero("profile", "logout", "alice")
        assert done.returncode == 0, done.stderr
        assert key not in {s["uuid"] for s in omero_server.sessions()}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _startable_by_another_user(prefix: list[str], env: dict[str, str]) -> None:
    """Skip (reported as a skip, with the reason) when uid 65534 cannot start this interpreter at all.

    A Python installed under a home only root may search (pyenv's under ``/root``, mode 0700) cannot
    load its libpython or its standard library as another user: that is the machine, not the
    ``omero`` script under test. An interpreter that user can run (a system Python, a venv
    outside ``/root``) runs the whole test.
    """
    probe = subprocess.run([*prefix, sys.executable, "-c", ""], env=env, capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no output"])[0]
        pytest.skip(f"uid {NOBODY} cannot start {sys.executable} ({reason}); the test needs an interpreter it can run")
