"""`current` and name completion without click, pydantic or plugins: the same output as the full command.

``quick.answer`` either answers exactly as the click command would, or declines (None) and the
console script runs the click command. Each test runs both on the same input and compares.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.shell_completion import shell_complete

from omeroprofiles import quick
from omeroprofiles.cli import cli
from omeroprofiles.cli_common import complete_profiles as _complete_profiles
from omeroprofiles.locations import locate

SCRIPT = Path(sys.executable).with_name("omero-profile")

PROFILES = """
default = "prod"

[profiles.prod]
host = "omero.example.org"
credentials = { source = "plain", username = "alice", password = "pw-in-file-123" }

[profiles.staging]
extends = "prod"
host = "staging.example.org"

[profiles.stage-2]
host = "stage2.example.org"

[profiles.idr]
host = "wss://idr.example.org/omero-ws"
"""


def _click_current(run, *args: str):
    result = run(*args)
    return result.exit_code, result.stdout


def _click_result(run, *args: str) -> tuple[int, str, str]:
    result = run(*args)
    return result.exit_code, result.stdout, result.stderr


def _quick(argv: list[str]) -> str | None:
    """What quick prints on stdout when it answers with success; None when it declines or reports an error."""
    done = quick.answer(argv, os.environ)
    return done.out if done is not None and done.status == 0 else None


# -- current --------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [["current"], ["current", "--json"], ["--debug", "current"]])
def test_current_is_answered_quickly_and_exactly(write_user, run, monkeypatch, argv):
    write_user(PROFILES)
    for setup in (lambda: None, lambda: run("use", "idr"), lambda: monkeypatch.setenv("OMERO_PROFILE", "staging")):
        setup()
        text = _quick(argv)
        assert text is not None, argv
        assert (0, text) == _click_current(run, *argv)


def test_current_with_config_option_and_site_file(write_site, run, tmp_path):
    write_site('default = "site-only"\n[profiles.site-only]\nhost = "site.example.org"\n')
    other = tmp_path / "other.toml"
    other.write_text('[profiles.x]\nhost = "x.example.org"\n')
    for argv in (["--config", str(other), "current"], [f"--config={other}", "current", "--json"], ["current"]):
        text = _quick(argv)
        assert text is not None, argv
        assert (0, text) == _click_current(run, *argv)
    assert json.loads(_quick(["--config", str(other), "current", "--json"]) or "")["name"] == "site-only"


CURRENT_ERRORS = ["unknown env", "removed by hand", "broken file", "bad defaults", "nothing selected",
                  "nothing selected, bad defaults", "invalid name", "control characters", "no file"]


@pytest.mark.parametrize("case", CURRENT_ERRORS)
def test_current_answers_every_error_exactly_as_the_full_command(write_user, user_file, run, monkeypatch, case):
    """A prompt runs ``current`` at every line, also when nothing is selected: the errors are answered
    quickly too, with the full command's exit status and every byte of its message."""
    text = PROFILES
    if case == "unknown env":
        monkeypatch.setenv("OMERO_PROFILE", "prdo")
    elif case == "removed by hand":
        write_user(PROFILES)
        assert run("use", "idr").exit_code == 0
        text = PROFILES.replace('[profiles.idr]\nhost = "wss://idr.example.org/omero-ws"\n', "")
    elif case == "broken file":
        text = PROFILES + "[profiles.oops\n"
    elif case == "bad defaults":  # current is about which profile: 'nope' is not defined, whatever [defaults] says
        text = PROFILES.replace('default = "prod"', 'default = "nope"\n[defaults]\nport = "x"')
    elif case == "nothing selected":
        text = PROFILES.replace('default = "prod"', "")
    elif case == "nothing selected, bad defaults":
        text = PROFILES.replace('default = "prod"', '[defaults]\nport = "x"')
    elif case == "invalid name":
        text = PROFILES.replace('default = "prod"', 'default = "bad name"\n[profiles."bad name"]\nhost = "h"')
    elif case == "control characters":
        monkeypatch.setenv("OMERO_PROFILE", "x\nfake-row")
    if case != "no file":
        write_user(text)
    done = quick.answer(["current"], os.environ)
    assert done is not None, "declined: the full command (click, pydantic, plugins) would answer"
    full = _click_result(run, "current")
    assert full[0] in (2, 3), full
    assert (done.status, done.out, done.err) == full
    script = subprocess.run([str(SCRIPT), "current"], capture_output=True, text=True)
    assert (script.returncode, script.stdout, script.stderr) == full
    assert quick.answer(["--debug", "current"], os.environ) is None  # the full command adds the traceback


def test_current_errors_keep_their_words_through_the_script(write_user, run, monkeypatch):
    write_user(PROFILES)
    monkeypatch.setenv("OMERO_PROFILE", "prdo")
    done = subprocess.run([str(SCRIPT), "current"], capture_output=True, text=True)
    assert done.returncode == 3 and "did you mean 'prod'?" in done.stderr
    monkeypatch.delenv("OMERO_PROFILE")
    assert run("use", "idr").exit_code == 0
    write_user(PROFILES.replace('[profiles.idr]\nhost = "wss://idr.example.org/omero-ws"\n', ""))
    done = subprocess.run([str(SCRIPT), "current"], capture_output=True, text=True)
    assert done.returncode == 3 and "is no longer defined" in done.stderr and "omero-profile use --clear" in done.stderr
    write_user(PROFILES + "[profiles.oops\n")
    done = subprocess.run([str(SCRIPT), "current"], capture_output=True, text=True)
    assert done.returncode == 2 and "TOML syntax error" in done.stderr


@pytest.mark.parametrize("argv", [["current", "--help"], ["current", "--jsn"], ["current", "extra"], ["--version"],
                                  ["--config"], ["--config", "", "current"], ["-h"], ["list"], [], ["current", "--json",
                                  "--json"], ["--config", "--debug", "current"]])
def test_current_declines_what_it_does_not_parse(write_user, argv):
    write_user(PROFILES)
    assert _quick(argv) is None


# -- completion -----------------------------------------------------------------------------------
def _click_completion(monkeypatch, capsysbinary, instruction: str, words: str, cword: str) -> str:
    """What click's own completion prints for this request (the path ``cli.main`` takes)."""
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", cword)
    capsysbinary.readouterr()
    assert shell_complete(cli, {}, "omero-profile", quick.COMPLETE_VAR, instruction) == 0
    return capsysbinary.readouterr().out.decode()


def _quick_completion(instruction: str, words: str, cword: str) -> str | None:
    done = quick.answer([], {**os.environ, quick.COMPLETE_VAR: instruction, "COMP_WORDS": words, "COMP_CWORD": cword})
    if done is None:
        return None
    assert (done.err, done.status) == ("", 0)
    return done.out


ANSWERED = [
    ("bash_complete", "omero-profile show ", "2"),
    ("bash_complete", "omero-profile show st", "2"),
    ("bash_complete", "omero-profile use s", "2"),
    ("bash_complete", "omero-profile   show\tst", "2"),
    ("zsh_complete", "omero-profile test i", "2"),
    ("fish_complete", "omero-profile show st", "st"),
    ("fish_complete", "omero-profile show", ""),
    ("bash_complete", "omero-profile password set ", "3"),
    ("bash_complete", "omero-profile --debug set p", "3"),
    ("bash_complete", "omero-profile show nothing-matches", "2"),
]


@pytest.mark.parametrize(("instruction", "words", "cword"), ANSWERED)
def test_completion_is_answered_quickly_and_exactly(write_user, monkeypatch, capsysbinary, instruction, words, cword):
    write_user(PROFILES)
    text = _quick_completion(instruction, words, cword)
    assert text is not None
    assert text == _click_completion(monkeypatch, capsysbinary, instruction, words, cword)


def test_completion_reads_the_config_option(write_user, tmp_path, monkeypatch, capsysbinary):
    write_user(PROFILES)
    other = tmp_path / "other.toml"
    other.write_text('[profiles.xa]\nhost = "x.example.org"\n[profiles.xb]\nhost = "x.example.org"\n')
    requests = ((f"omero-profile --config {other} show x", "4"), (f"omero-profile --config={other} use ", "3"))
    for words, cword in requests:
        text = _quick_completion("bash_complete", words, cword)
        assert text == "plain,xa\nplain,xb\n" == _click_completion(monkeypatch, capsysbinary, "bash_complete", words,
                                                                    cword)


DECLINED = [
    ("bash_complete", "omero-profile sh", "1"),                 # a command name
    ("bash_complete", "omero-profile show --", "2"),            # an option name
    ("bash_complete", "omero-profile show p ", "3"),            # a second argument
    ("bash_complete", "omero-profile set prod ", "3"),          # KEY, not a profile
    ("bash_complete", "omero-profile add ", "2"),               # a new name
    ("bash_complete", "omero-profile password ", "2"),          # a sub-command
    ("bash_complete", "omero-profile show 'st", "2"),           # shell quoting
    ("bash_complete", "omero-profile show st\\", "2"),          # an escape
    ("bash_complete", "omero-profile --config ", "2"),          # an option's value
    ("bash_complete", "omero-profile show =", "2"),
    ("bash_complete", "omero-profile show", "x"),
    ("powershell_complete", "omero-profile show ", "2"),        # a shell click knows better
    ("bash_source", "", ""),
]


@pytest.mark.parametrize(("instruction", "words", "cword"), DECLINED)
def test_completion_declines_what_it_does_not_handle(write_user, instruction, words, cword):
    write_user(PROFILES)
    assert _quick_completion(instruction, words, cword) is None


def test_the_commands_that_complete_a_profile_are_the_quick_ones():
    """quick.PROFILE_COMMANDS must name exactly the commands whose first argument completes profile names."""
    found = set()

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, (*prefix, name))
                continue
            arguments = [p for p in command.params if isinstance(p, click.Argument)]
            if arguments and arguments[0]._custom_shell_complete is _complete_profiles:
                found.add((*prefix, name))
            assert all(p._custom_shell_complete is not _complete_profiles for p in arguments[1:])

    walk(cli, ())
    assert found == set(quick.PROFILE_COMMANDS)


def test_completion_through_the_script_matches_click(write_user):
    write_user(PROFILES)
    env = {**os.environ, quick.COMPLETE_VAR: "bash_complete", "COMP_WORDS": "omero-profile show st", "COMP_CWORD": "2"}
    quick_done = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env)
    full_done = subprocess.run([sys.executable, "-c", "from omeroprofiles.cli import main; main()"],
                               capture_output=True, text=True, env=env)
    assert quick_done.returncode == full_done.returncode == 0
    assert quick_done.stdout == full_done.stdout == "plain,staging\nplain,stage-2\n"


# -- what they import -----------------------------------------------------------------------------
PROBE = """
import sys
from omeroprofiles.console import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("click", "pydantic", "pydantic_core", "pluggy", "platformdirs", "dataclasses", "filelock",
                           "importlib.metadata", "omeroprofiles.plugins", "omeroprofiles.resolve") if m in sys.modules)
print("EXIT", code, "HEAVY", heavy, file=sys.stderr)
"""


def test_current_and_completion_import_neither_click_nor_pydantic_nor_plugins(write_user):
    write_user(PROFILES)
    done = subprocess.run([sys.executable, "-c", PROBE, "current"], capture_output=True, text=True)
    assert "prod    (default in" in done.stdout
    assert "EXIT 0 HEAVY []" in done.stderr, done.stderr
    env = {**os.environ, quick.COMPLETE_VAR: "zsh_complete", "COMP_WORDS": "omero-profile use ", "COMP_CWORD": "2"}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env)
    assert done.stdout == "plain\nprod\n_\nplain\nstaging\n_\nplain\nstage-2\n_\nplain\nidr\n_\n"
    assert "EXIT 0 HEAVY []" in done.stderr, done.stderr


@pytest.mark.parametrize(("case", "status"), [("nothing selected", 3), ("unknown name", 3), ("broken file", 2)])
def test_current_errors_and_completion_import_neither_click_nor_pydantic_nor_plugins(write_user, case, status):
    """Every outcome of a prompt's ``current`` and of TAB stays on the fast path (issue: 9-10x python -c pass
    when nothing was selected, because the error fell back to the full command)."""
    text = {"nothing selected": PROFILES.replace('default = "prod"', ""),
            "unknown name": PROFILES.replace('default = "prod"', 'default = "prdo"'),
            "broken file": PROFILES + "[profiles.oops\n"}[case]
    write_user(text)
    done = subprocess.run([sys.executable, "-c", PROBE, "current"], capture_output=True, text=True)
    assert f"EXIT {status} HEAVY []" in done.stderr, done.stderr
    for words in ("omero-profile show s", "omero-profile show zz"):
        env = {**os.environ, quick.COMPLETE_VAR: "bash_complete", "COMP_WORDS": words, "COMP_CWORD": "2"}
        done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env)
        assert "EXIT 0 HEAVY []" in done.stderr, done.stderr


def test_xdg_directories_agree_with_platformdirs(monkeypatch, tmp_path):
    """locations applies the XDG rules itself on Linux (platformdirs is slow to import): same answers."""
    import platformdirs

    from omeroprofiles import locations

    if not sys.platform.startswith("linux"):
        pytest.skip("the XDG rules are applied by omero-profiles only on Linux")
    for value in (None, "", "relative/dir", str(tmp_path / "xdg")):
        for variable in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            if value is None:
                monkeypatch.delenv(variable, raising=False)
            else:
                monkeypatch.setenv(variable, value)
        assert locations.user_config_dir() == Path(platformdirs.user_config_dir("omero-profiles", appauthor=False))
        assert locations.user_state_dir() == Path(platformdirs.user_state_dir("omero-profiles", appauthor=False))
        assert locations.user_cache_dir() == Path(platformdirs.user_cache_dir("omero-profiles", appauthor=False))
    assert locate().state_file == Path(platformdirs.user_state_dir("omero-profiles", appauthor=False)) / "state.toml"
