"""The offline CLI through click's CliRunner, plus end-to-end runs of the installed script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "profiles.example.toml"
SCRIPT = Path(sys.executable).with_name("omero-profile")

PROFILES = """
default = "prod"

[profiles.prod]
host = "omero.example.org"
group = "Lab A"
credentials = { source = "plain", username = "alice", password = "pw-in-file-123" }

[profiles.staging]
extends = "prod"
host = "staging.example.org"
credentials = { source = "env" }

[profiles.idr]
host = "wss://idr.example.org/omero-ws"
"""


def test_list_text_and_json(write_user, run):
    write_user(PROFILES)
    result = run("list")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "HOST", "USER", "SOURCE", "GROUP"]
    assert lines[1].startswith("*") and "prod" in lines[1] and "alice" in lines[1]
    data = json.loads(run("list", "--json").stdout)
    assert [d["name"] for d in data] == ["prod", "staging", "idr"]
    assert data[0]["active"] is True and data[1]["active"] is False
    assert data[2]["port"] == 443 and data[2]["source"] == "prompt"
    assert {"name", "host", "port", "active"} <= set(data[0])


def test_list_never_shows_secrets_or_fetches_them(write_user, run, monkeypatch):
    write_user(PROFILES)
    monkeypatch.delenv("OMERO_PASSWORD", raising=False)  # staging's env source would fail if fetched
    for args in (["list"], ["list", "--json"], ["show", "prod"], ["show", "prod", "--json"]):
        result = run(*args)
        assert result.exit_code == 0
        assert "pw-in-file-123" not in result.stdout + result.stderr


def test_show_resolved_with_origins(write_user, run):
    path = write_user(PROFILES)
    data = json.loads(run("show", "staging", "--json").stdout)
    assert data["host"] == "staging.example.org"
    assert data["group"] == "Lab A"
    assert data["origin"]["group"] == {"kind": "file", "file": str(path), "table": "profiles.prod",
                                       "via_extends": True, "detail": None,
                                       "text": f"{path} [profiles.prod] via extends"}
    assert data["origin"]["port"]["kind"] == "builtin" and data["origin"]["port"]["text"] == "built-in default"
    text = run("show", "prod").stdout
    assert 'password = "**********"' in text
    assert f"# {path} [profiles.prod]" in text


def test_current_reasons(write_user, run, monkeypatch):
    write_user(PROFILES)
    expected = f"default in {os.environ['HOME']}/.config/omero-profiles/profiles.toml"
    assert json.loads(run("current", "--json").stdout) == {"name": "prod", "reason": "default", "detail": expected}
    assert run("use", "idr").exit_code == 0
    assert json.loads(run("current", "--json").stdout)["reason"] == "state"
    monkeypatch.setenv("OMERO_PROFILE", "staging")
    current = json.loads(run("current", "--json").stdout)
    assert (current["name"], current["reason"]) == ("staging", "env")
    monkeypatch.setenv("OMERO_PROFILE", "nope")
    result = run("current")
    assert result.exit_code == 3
    assert "profile 'nope' (from $OMERO_PROFILE) is not defined" in result.stderr


def test_no_profile_selected_lists_names(write_user, run):
    write_user(PROFILES.replace('default = "prod"', ""))
    result = run("show")
    assert result.exit_code == 3
    assert "no profile selected" in result.stderr and "Available: prod, staging, idr" in result.stderr


def test_path_json(run, user_file, site_file):
    data = json.loads(run("path", "--json").stdout)
    assert data["user_file"] == {"path": str(user_file), "exists": False, "status": "missing", "from": "default"}
    assert data["site_file"]["path"] == str(site_file)
    assert data["site_file"]["from"] == "$OMERO_PROFILES_SYSTEM_FILE"
    assert data["state_file"]["path"].endswith("omero-profiles/state.toml")


def test_config_option_replaces_user_file(run, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text('[profiles.x]\nhost = "x.example.org"\n')
    data = json.loads(run("--config", str(other), "list", "--json").stdout)
    assert [d["name"] for d in data] == ["x"]
    missing = run("--config", str(tmp_path / "missing.toml"), "list")
    assert missing.exit_code == 2 and "file not found (given with --config)" in missing.stderr


def test_example_file_validates(run):
    result = run("--config", str(EXAMPLE), "validate")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "ok: 10 profile(s)" in result.stdout
    names = {d["name"] for d in json.loads(run("--config", str(EXAMPLE), "list", "--json").stdout)}
    sources = {d["source"] for d in json.loads(run("--config", str(EXAMPLE), "list", "--json").stdout)}
    assert {"prod", "staging", "idr"} <= names
    assert {"env", "prompt", "command", "keyring", "plain", "session"} <= sources


def test_use_shell_for_one_terminal(write_user, run, user_file):
    write_user(PROFILES)
    before = user_file.read_bytes()
    result = run("use", "staging", "--shell", env={"SHELL": "/bin/bash"})
    assert result.stdout.strip() == "export OMERO_PROFILE=staging"
    assert run("use", "staging", "--shell", env={"SHELL": "/usr/bin/fish"}).stdout == result.stdout  # fish reads it
    assert json.loads(run("current", "--json").stdout)["reason"] == "default"  # nothing written
    assert user_file.read_bytes() == before


def test_debug_shows_traceback_only_when_asked(write_user, run):
    write_user(PROFILES)
    plain = run("show", "nope")
    assert plain.exit_code == 3 and "Traceback" not in plain.stderr
    debug = run("--debug", "show", "nope")
    assert debug.exit_code == 3 and "Traceback" in debug.stderr


def test_completion_of_profile_names(write_user):
    from click.shell_completion import ShellComplete

    from omeroprofiles.cli import cli

    write_user(PROFILES)
    completion = ShellComplete(cli, {}, "omero-profile", "_OMERO_PROFILE_COMPLETE")
    assert [c.value for c in completion.get_completions(["show"], "st")] == ["staging"]
    assert [c.value for c in completion.get_completions(["use"], "")] == ["prod", "staging", "idr"]


# -- the installed console script, as a user runs it ---------------------------------------------
@pytest.fixture
def script() -> Path:
    assert SCRIPT.exists(), f"{SCRIPT} is missing: run scripts/setup.sh"
    return SCRIPT


def test_installed_script_list_and_exit_codes(script, write_user):
    write_user(PROFILES)
    done = subprocess.run([str(script), "list", "--json"], capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout)[0]["name"] == "prod"
    done = subprocess.run([str(script), "show", "prdo"], capture_output=True, text=True)
    assert done.returncode == 3
    assert done.stderr.startswith("omero-profile: error: profile 'prdo'") and "did you mean 'prod'" in done.stderr
    done = subprocess.run([str(script), "nosuchcommand"], capture_output=True, text=True)
    assert done.returncode == 2


def test_installed_script_validate_broken_file(script, write_user):
    path = write_user('[profiles.a]\nhots = "x"\n')
    done = subprocess.run([str(script), "validate"], capture_output=True, text=True)
    assert done.returncode == 2
    assert f"{path}: profile 'a': hots: unknown key (did you mean 'host'?)" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_offline_commands_do_not_import_omero(script, write_user):
    write_user(PROFILES)
    code = ("import sys; from omeroprofiles.cli import main\n"
            "try:\n    main(['list'])\nexcept SystemExit:\n    pass\n"
            "bad = [m for m in sys.modules if m == 'Ice' or m.startswith('omero.') or m == 'omero']\n"
            "print('IMPORTED', bad, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "IMPORTED []" in done.stderr, done.stderr



def test_validate_warns_about_a_readable_file_with_a_secret(write_user, run):
    path = write_user(PROFILES)
    path.chmod(0o644)
    result = run("validate")
    assert result.exit_code == 0
    assert f"warning: {path}: readable by other users (mode 0644)" in result.stderr
    assert "profile(s) prod" in result.stderr and "pw-in-file-123" not in result.stderr
    path.chmod(0o600)
    assert "warning" not in run("validate").stderr
    path.write_text(PROFILES.replace('source = "plain", username = "alice", password = "pw-in-file-123"',
                                     'source = "prompt", username = "alice"'))
    path.chmod(0o644)
    result = run("validate")
    assert result.exit_code == 0, result.stdout
    assert "warning" not in result.stderr  # no secret in the file: no noise


def test_path_with_a_name_too_long_for_the_filesystem(run, tmp_path):
    result = run("--config", str(tmp_path / ("x" * 300)), "path")
    assert result.exit_code == 0, result.stderr
    assert "unusable: the file name is too long" in result.stdout


def test_hand_written_nan_timeout_and_reserved_name_say_what_is_wrong(run, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[profiles.a]\nhost = "h"\ntimeout = nan\n[profiles.defaults]\nhost = "h"\n')
    result = run("--config", str(path), "validate")
    assert result.exit_code == 2
    assert "profile 'a': timeout: input should be a finite number" in result.stdout
    assert "profile 'defaults': 'defaults' is reserved" in result.stdout
