"""Editing the user's profiles file: through the CLI (add, remove, set, unset, use, init) and the
``omeroprofiles.edit`` functions. Comments and layout survive, refused edits change nothing, writes
are atomic and serialised, and ``use`` never touches profiles.toml.
"""

from __future__ import annotations

import difflib
import json
import os
import stat
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import tomlkit
from file_helpers import OLD_MTIME_NS, snapshot, write_file

from omeroprofiles.edit import add_profile, edit_user_file, parse_value, remove_profile, set_key
from omeroprofiles.errors import ConfigError, ProfileNotFound
from omeroprofiles.files import tomllib
from omeroprofiles.locations import locate

COMMENTED = """\
# My OMERO servers.
default = "prod"   # used when nothing else selects one

[defaults]
timeout = 10 # seconds

# The facility server.
[profiles.prod]
host = "omero.example.org"  # the real one
port = 4064                 # SSL
group = "Lab A"
credentials = { source = "env" }  # OMERO_USER / OMERO_PASSWORD

# Laptop test server.
[profiles.dev]  # local
host = "localhost"
"""

EXAMPLE = resources.files("omeroprofiles").joinpath("profiles.example.toml").read_text(encoding="utf-8")

SHAPES = {
    "commented": COMMENTED,
    "packaged-example": EXAMPLE,
    "no-trailing-newline": '[profiles.prod]\nhost = "omero.example.org"',
    "trailing-blank-lines": '[profiles.prod]\nhost = "omero.example.org"\n\n\n',
    "trailing-comment": '[profiles.prod]\nhost = "omero.example.org"\n\n# the end\n',
    "empty": "",
    "only-comments": "# nothing here yet\n# add profiles below\n",
    "defaults-only": "[defaults]\ntimeout = 5\n",
    "defaults-after-profiles": '[profiles.prod]\nhost = "omero.example.org"\n\n# shared\n[defaults]\ntimeout = 3\n',
    "spaced-and-quoted-headers": '[ profiles . prod ]\nhost = "omero.example.org"\n\n'
                                 '[profiles."lab.a"]\nhost = "h.org"\n',
    "explicit-profiles-table": '[profiles]\n\n[profiles.prod]\nhost = "omero.example.org"\n',
    "credentials-sub-table": '[profiles.prod]\nhost = "omero.example.org"\n\n[profiles.prod.credentials]\n'
                             'source = "env"\nusername_var = "ME"\n',
    "indented": '[profiles.prod]\n    host = "omero.example.org"\n    port = 4064\n',
    "crlf": '# windows\r\n[profiles.prod]\r\nhost = "omero.example.org"\r\n',
    "inline-comments-everywhere": '[profiles.prod] # header comment\nhost = "omero.example.org" # host\n'
                                  '# between\nport = 4064 # port\n',
}


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "conf" / "profiles.toml"


@pytest.fixture
def ed(run, cfg: Path):
    """The CLI on the ``cfg`` file."""

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None):
        result = run("--config", str(cfg), *args, env=env, input=input)
        for stream in (result.stdout, result.stderr):
            assert "Traceback" not in stream and "internal error" not in stream
        return result

    return invoke


_write = write_file
_snapshot = snapshot


def _changes(old: str, new: str) -> list[tuple[str, list[str], list[str]]]:
    """The line-level edits from ``old`` to ``new``: (op, old lines, new lines)."""
    a, b = old.splitlines(), new.splitlines()
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    return [(op, a[i1:i2], b[j1:j2]) for op, i1, i2, j1, j2 in ops if op != "equal"]


def _state_file(home: Path) -> Path:
    return home / ".local" / "state" / "omero-profiles" / "state.toml"


# -- add + remove: byte for byte ------------------------------------------------------------------
@pytest.mark.parametrize("shape", list(SHAPES))
def test_add_then_remove_is_byte_identical(shape: str, cfg: Path, ed) -> None:
    original = SHAPES[shape]
    _write(cfg, original)
    valid_before = ed("validate").exit_code
    added = ed("add", "new1", "--host", "new.example.org", "--port", "4063", "--source", "env",
               "--username", "bob")
    assert added.exit_code == 0, added.stderr
    text = cfg.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert data["profiles"]["new1"] == {"host": "new.example.org", "port": 4063,
                                        "credentials": {"source": "env", "username": "bob"}}
    assert all(op == "insert" for op, _, _ in _changes(original, text)), _changes(original, text)
    assert ed("validate").exit_code == valid_before  # the added profile brings no problem of its own
    assert ed("show", "new1").exit_code == 0

    removed = ed("remove", "new1")
    assert removed.exit_code == 0, removed.stderr
    assert cfg.read_bytes() == original.encode("utf-8")


def test_add_writes_a_readable_table_after_the_last_profile(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    assert ed("add", "staging", "--extends", "prod", "--host", "staging.example.org", "--source", "env").exit_code == 0
    assert cfg.read_text() == COMMENTED + (
        '\n[profiles.staging]\nextends = "prod"\nhost = "staging.example.org"\ncredentials = { source = "env" }\n'
    )
    assert ed("show", "staging", "--json").exit_code == 0


def test_add_before_a_later_table_keeps_its_comment(cfg: Path, ed) -> None:
    text = '[profiles.prod]\nhost = "a.org"\n\n# shared settings\n[defaults]\ntimeout = 3\n'
    _write(cfg, text)
    assert ed("add", "dev", "--host", "b.org").exit_code == 0
    assert cfg.read_text() == ('[profiles.prod]\nhost = "a.org"\n\n[profiles.dev]\nhost = "b.org"\n\n'
                               '# shared settings\n[defaults]\ntimeout = 3\n')


def test_remove_takes_its_own_comment_and_keeps_the_next_profiles(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    assert ed("remove", "prod").exit_code == 2  # default = "prod" would name a missing profile
    _write(cfg, COMMENTED.replace('default = "prod"', 'default = "dev"'))
    result = ed("remove", "prod")
    assert result.exit_code == 0, result.stderr
    assert cfg.read_text() == COMMENTED.replace('default = "prod"', 'default = "dev"').replace(
        '# The facility server.\n[profiles.prod]\nhost = "omero.example.org"  # the real one\n'
        'port = 4064                 # SSL\ngroup = "Lab A"\n'
        'credentials = { source = "env" }  # OMERO_USER / OMERO_PASSWORD\n\n', "")
    assert "# Laptop test server.\n[profiles.dev]  # local\n" in cfg.read_text()


def test_remove_last_profile_keeps_the_rest(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    assert ed("remove", "dev").exit_code == 0
    assert cfg.read_text() == COMMENTED.split("\n# Laptop test server.")[0]


def test_add_existing_or_invalid_profile_is_refused_and_changes_nothing(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    before = _snapshot(cfg)
    exists = ed("add", "prod", "--host", "x.org")
    assert exists.exit_code == 2 and "profile 'prod' already exists" in exists.stderr
    bad_host = ed("add", "new", "--host", "x.org:4064")
    assert bad_host.exit_code == 2
    assert f"{cfg}: profile 'new': host: 'x.org:4064' contains a port" in bad_host.stderr
    assert "nothing was written" in bad_host.stderr
    bad_name = ed("add", "my server", "--host", "x.org")
    assert bad_name.exit_code == 2 and "invalid profile name" in bad_name.stderr
    bad_source = ed("add", "new", "--host", "x.org", "--source", "no-such-source")
    assert bad_source.exit_code == 2
    assert "profile 'new': credentials.source: unknown credential source" in bad_source.stderr
    assert _snapshot(cfg) == before


def test_add_to_a_file_with_a_syntax_error_is_refused(cfg: Path, ed) -> None:
    _write(cfg, '[profiles.prod]\nhost = "omero.example.org\n')
    before = _snapshot(cfg)
    for args in (("add", "new", "--host", "x.org"), ("set", "prod", "port", "1"), ("remove", "prod"),
                 ("unset", "prod", "host")):
        result = ed(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert f"{cfg}:2:" in result.stderr and "TOML syntax error" in result.stderr
    assert _snapshot(cfg) == before


def test_add_next_to_an_existing_problem_is_allowed(cfg: Path, ed) -> None:
    """Only problems the edit introduces stop it: a user can add a profile while fixing another."""
    _write(cfg, '[profiles.old]\nhots = "x.org"\n')
    assert ed("add", "new", "--host", "new.org").exit_code == 0
    result = ed("validate")
    assert result.stdout.splitlines() == [f"{cfg}: profile 'old': hots: unknown key (did you mean 'host'?)"]


def test_add_make_default_rewrites_only_the_default_line(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    assert ed("add", "lab", "--host", "lab.org", "--make-default").exit_code == 0
    changes = _changes(COMMENTED, cfg.read_text())
    assert changes[0] == ("replace", ['default = "prod"   # used when nothing else selects one'],
                          ['default = "lab"   # used when nothing else selects one'])
    assert [op for op, _, _ in changes[1:]] == ["insert"]
    assert json.loads(ed("current", "--json").stdout)["name"] == "lab"


# -- set / unset ------------------------------------------------------------------------------------
def test_set_changes_one_value_and_keeps_its_comment(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    assert ed("set", "prod", "port", "4063").exit_code == 0
    assert _changes(COMMENTED, cfg.read_text()) == [
        ("replace", ["port = 4064                 # SSL"], ["port = 4063                 # SSL"])]


def test_set_string_and_text_values(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    assert ed("set", "prod", "host", "other.example.org").exit_code == 0
    assert ed("set", "prod", "group", "53").exit_code == 0
    assert ed("set", "dev", "su", "1234").exit_code == 0  # su is always text
    data = tomllib.loads(cfg.read_text())["profiles"]
    assert (data["prod"]["host"], data["prod"]["group"], data["dev"]["su"]) == ("other.example.org", 53, "1234")
    assert 'host = "other.example.org"  # the real one' in cfg.read_text()


def test_set_new_key_goes_below_the_tables_last_value(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    assert ed("set", "prod", "su", "alice").exit_code == 0
    assert _changes(COMMENTED, cfg.read_text()) == [("insert", [], ['su = "alice"'])]
    lines = cfg.read_text().splitlines()
    assert lines[lines.index('su = "alice"') - 1].startswith("credentials = ")
    assert lines[lines.index('su = "alice"') + 2] == "# Laptop test server."


def test_set_new_key_keeps_the_tables_indentation(cfg: Path, ed) -> None:
    _write(cfg, SHAPES["indented"])
    assert ed("set", "prod", "group", "53").exit_code == 0
    assert cfg.read_text() == SHAPES["indented"] + "    group = 53\n"


def test_set_credentials_key_keeps_the_inline_table_tidy(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    assert ed("set", "prod", "credentials.username", "bob").exit_code == 0
    assert _changes(COMMENTED, cfg.read_text()) == [(
        "replace", ['credentials = { source = "env" }  # OMERO_USER / OMERO_PASSWORD'],
        ['credentials = { source = "env", username = "bob" }  # OMERO_USER / OMERO_PASSWORD'])]
    assert ed("unset", "prod", "credentials.username").exit_code == 0
    assert cfg.read_text() == COMMENTED


def test_set_credentials_where_there_were_none(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    assert ed("set", "dev", "credentials", '{ source = "keyring", username = "me" }').exit_code == 0
    assert cfg.read_text() == COMMENTED + 'credentials = { source = "keyring", username = "me" }\n'


@pytest.mark.parametrize(("key", "value", "message"), [
    ("port", "abc", "profile 'prod': port: input should be a valid integer (got a string)"),
    ("port", "0", "profile 'prod': port: input should be greater than or equal to 1"),
    ("port", "70000", "profile 'prod': port: input should be less than or equal to 65535"),
    ("secure", "yes", "profile 'prod': secure: input should be a valid boolean"),
    ("host", "http://omero.example.org", "profile 'prod': host: unsupported URL scheme 'http://'"),
    ("hots", "omero.example.org", "profile 'prod': hots: unknown key (did you mean 'host'?)"),
    ("extends", "nosuch", "profile 'prod': extends: extends unknown profile 'nosuch'"),
    ("extends", "prod", "profile 'prod': extends: extends cycle: prod -> prod"),
    ("credentials.source", "vualt", "profile 'prod': credentials.source: unknown credential source 'vualt'"),
    ("credentials.usernme_var", "X", "profile 'prod': credentials.usernme_var: unknown key"),
    ("group", "1.5", "profile 'prod': group: must be a group name"),
])
def test_set_invalid_value_is_refused_and_changes_nothing(key: str, value: str, message: str, cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    before = _snapshot(cfg)
    result = ed("set", "prod", key, value)
    assert result.exit_code == 2, result.stderr
    assert f"omero-profile: error: {cfg}: {message}" in result.stderr
    assert f"nothing was written to {cfg}" in result.stderr
    assert _snapshot(cfg) == before


@pytest.mark.parametrize("args", [
    ("credentials.password", "hunter2"),
    ("credentials.key", "0e8d5e3c-secret"),
    ("credentials", '{ source = "plain", username = "u", password = "hunter2" }'),
    ("credentials", '{ source = "session", key = "0e8d5e3c-secret" }'),
])
def test_set_refuses_to_write_a_secret(args: tuple[str, str], cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    before = _snapshot(cfg)
    result = ed("set", "prod", *args)
    assert result.exit_code == 2
    assert "refusing to write a secret" in result.stderr
    assert "hunter2" not in result.stderr and "0e8d5e3c" not in result.stderr
    assert _snapshot(cfg) == before


def test_set_bad_key_path_and_unknown_profile(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    before = _snapshot(cfg)
    deep = ed("set", "prod", "credentials.a.b", "1")
    assert deep.exit_code == 2 and "cannot set 'credentials.a.b'" in deep.stderr
    missing = ed("set", "prd", "port", "1")
    assert missing.exit_code == 3 and "did you mean 'prod'?" in missing.stderr
    assert ed("unset", "prd", "port").exit_code == 3
    assert ed("remove", "prd").exit_code == 3
    assert _snapshot(cfg) == before


def test_unset_removes_one_line_and_refuses_what_is_not_set(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    assert ed("unset", "prod", "group").exit_code == 0
    assert _changes(COMMENTED, cfg.read_text()) == [("delete", ['group = "Lab A"'], [])]
    snapshot = _snapshot(cfg)
    again = ed("unset", "prod", "group")
    assert again.exit_code == 2 and "'group' is not set" in again.stderr
    required = ed("unset", "dev", "host")
    assert required.exit_code == 2 and "profile 'dev': host: required key is missing" in required.stderr
    assert _snapshot(cfg) == snapshot


def test_set_defaults_creates_the_table_above_the_profiles(cfg: Path, ed) -> None:
    text = '# mine\ndefault = "prod"\n\n[profiles.prod]\nhost = "omero.example.org"'
    _write(cfg, text)
    assert ed("set", "defaults", "timeout", "5").exit_code == 0
    assert cfg.read_text() == ('# mine\ndefault = "prod"\n\n[defaults]\ntimeout = 5\n\n'
                               '[profiles.prod]\nhost = "omero.example.org"')
    assert ed("set", "defaults", "keepalive", "0").exit_code == 0
    assert tomllib.loads(cfg.read_text())["defaults"] == {"timeout": 5, "keepalive": 0}
    bad = ed("set", "defaults", "timeout", "0")
    assert bad.exit_code == 2 and f"{cfg}: defaults.timeout: input should be greater than 0" in bad.stderr


def test_edits_of_a_site_only_profile_are_refused(cfg: Path, ed, write_site) -> None:
    site = write_site('[profiles.shared]\nhost = "omero.example.org"\n')
    os.utime(site, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    _write(cfg, COMMENTED)
    before = _snapshot(site), _snapshot(cfg)
    for args in (("set", "shared", "port", "4063"), ("unset", "shared", "host"), ("remove", "shared")):
        result = ed(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert f"profile 'shared' is defined in the site-wide file {site}, not in your file {cfg}" in result.stderr
        assert "add your own 'shared' profile" in result.stderr
    assert (_snapshot(site), _snapshot(cfg)) == before
    # Shadowing it with a profile of your own is how you change it; the site file is still untouched.
    assert ed("add", "shared", "--host", "mine.example.org").exit_code == 0
    assert ed("set", "shared", "port", "4063").exit_code == 0
    assert _snapshot(site) == before[0]
    assert json.loads(ed("show", "shared", "--json").stdout)["host"] == "mine.example.org"


def test_profiles_written_as_inline_tables(cfg: Path, ed) -> None:
    _write(cfg, 'profiles = { a = { host = "x.org" } }\n')
    before = _snapshot(cfg)
    refused = ed("add", "b", "--host", "y.org")
    assert refused.exit_code == 2 and "writes 'profiles' as an inline table" in refused.stderr
    assert _snapshot(cfg) == before
    assert ed("set", "a", "port", "4063").exit_code == 0
    assert tomllib.loads(cfg.read_text()) == {"profiles": {"a": {"host": "x.org", "port": 4063}}}


def test_dotted_credentials_keys(cfg: Path, ed) -> None:
    text = '[profiles.a]\nhost = "x.org"\ncredentials.source = "env"\n\n# b\n[profiles.b]\nhost = "y.org"\n'
    _write(cfg, text)
    assert ed("set", "a", "credentials.username", "bob").exit_code == 0
    new = cfg.read_text()
    assert tomllib.loads(new)["profiles"]["a"]["credentials"] == {"source": "env", "username": "bob"}
    assert new.endswith('\n\n# b\n[profiles.b]\nhost = "y.org"\n')
    assert ed("remove", "a").exit_code == 0
    assert cfg.read_text() == '# b\n[profiles.b]\nhost = "y.org"\n'


def test_crlf_file_stays_crlf(cfg: Path, ed) -> None:
    _write(cfg, SHAPES["crlf"])
    for args in (("set", "prod", "port", "4063"), ("set", "prod", "su", "alice"), ("set", "defaults", "timeout", "3"),
                 ("add", "dev", "--host", "dev.org")):
        assert ed(*args).exit_code == 0, args
    raw = cfg.read_bytes()
    assert raw.count(b"\n") == raw.count(b"\r\n") > 8
    assert tomllib.loads(raw.decode())["profiles"]["prod"] == {"host": "omero.example.org", "port": 4063, "su": "alice"}


# -- files: mode, atomicity, symlinks, locking --------------------------------------------------------
def test_add_creates_a_private_file(cfg: Path, ed) -> None:
    old_umask = os.umask(0o022)
    try:
        assert ed("add", "prod", "--host", "omero.example.org").exit_code == 0
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert cfg.read_text() == '[profiles.prod]\nhost = "omero.example.org"\n'
    assert os.listdir(cfg.parent) == ["profiles.toml"]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_an_existing_file_keeps_its_mode(mode: int, cfg: Path, ed) -> None:
    _write(cfg, COMMENTED, mode)
    assert ed("set", "prod", "port", "4063").exit_code == 0
    assert ed("add", "new", "--host", "new.org").exit_code == 0
    assert ed("remove", "new").exit_code == 0
    assert stat.S_IMODE(cfg.stat().st_mode) == mode


def test_no_temporary_files_are_left_behind(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    ed("set", "prod", "port", "4063")  # success
    ed("set", "prod", "port", "0")  # refused by validation
    ed("set", "prod", "credentials.password", "x")  # refused before any write
    ed("add", "prod", "--host", "x.org")  # refused: exists
    ed("remove", "dev")  # success
    assert os.listdir(cfg.parent) == ["profiles.toml"]


def test_edit_through_a_symlink_edits_the_target(tmp_path: Path, cfg: Path, ed) -> None:
    real = _write(tmp_path / "dotfiles" / "omero.toml", COMMENTED, 0o640)
    cfg.parent.mkdir(parents=True)
    cfg.symlink_to(real)
    assert ed("set", "prod", "port", "4063").exit_code == 0
    assert cfg.is_symlink() and cfg.resolve() == real
    assert "port = 4063" in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(os.listdir(real.parent)) == ["omero.toml"]


def _script() -> str:
    script = Path(sys.executable).with_name("omero-profile")
    assert script.exists(), f"the omero-profile console script is not installed next to {sys.executable}"
    return str(script)


def test_concurrent_adds_are_serialised(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    n = 8
    procs = [subprocess.Popen([_script(), "--config", str(cfg), "add", f"p{i}", "--host", f"h{i}.example.org"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(n)]
    outcomes = [(p.wait(timeout=60), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    for p in procs:
        p.stdout.close()  # type: ignore[union-attr]
        p.stderr.close()  # type: ignore[union-attr]
    assert all(code == 0 for code, _ in outcomes), outcomes
    text = cfg.read_text()
    profiles = tomllib.loads(text)["profiles"]
    assert {f"p{i}" for i in range(n)} <= set(profiles)
    assert all(profiles[f"p{i}"] == {"host": f"h{i}.example.org"} for i in range(n))
    assert text.startswith(COMMENTED)  # every writer re-read the file under the lock
    assert ed("validate").exit_code == 0
    assert sorted(os.listdir(cfg.parent)) == ["profiles.toml"]


def test_concurrent_use_of_different_files_keeps_every_choice(tmp_path: Path, isolated_env: Path) -> None:
    files = [_write(tmp_path / f"f{i}.toml", f'[profiles.p{i}]\nhost = "h{i}.org"\n') for i in range(6)]
    procs = [subprocess.Popen([_script(), "--config", str(f), "use", f"p{i}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i, f in enumerate(files)]
    assert [p.wait(timeout=60) for p in procs] == [0] * len(files)
    active = tomllib.loads(_state_file(isolated_env).read_text())["active"]
    assert active == {str(f): f"p{i}" for i, f in enumerate(files)}


# -- use / current / precedence -------------------------------------------------------------------
def test_use_writes_only_the_state_file(cfg: Path, ed, isolated_env: Path) -> None:
    _write(cfg, COMMENTED)
    before = _snapshot(cfg)
    result = ed("use", "dev")
    assert result.exit_code == 0 and "Active profile: dev" in result.stderr
    assert _snapshot(cfg) == before
    state = _state_file(isolated_env)
    assert tomllib.loads(state.read_text()) == {"active": {str(cfg): "dev"}}
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert json.loads(ed("current", "--json").stdout)["reason"] == "state"


def test_use_unknown_profile_is_exit_3_and_writes_nothing(cfg: Path, ed, isolated_env: Path) -> None:
    _write(cfg, COMMENTED)
    before = _snapshot(cfg)
    result = ed("use", "prdo")
    assert result.exit_code == 3
    assert "profile 'prdo' is not defined in" in result.stderr and "did you mean 'prod'?" in result.stderr
    assert not _state_file(isolated_env).exists()
    assert _snapshot(cfg) == before


def test_use_refuses_a_broken_profile(cfg: Path, ed, isolated_env: Path) -> None:
    _write(cfg, COMMENTED + "port = 0\n")
    result = ed("use", "dev")
    assert result.exit_code == 2 and f"{cfg}: profile 'dev': port:" in result.stderr
    assert not _state_file(isolated_env).exists()


def test_use_shell_prints_an_export_and_writes_nothing(cfg: Path, ed, isolated_env: Path) -> None:
    _write(cfg, COMMENTED)
    before = _snapshot(cfg)
    result = ed("use", "dev", "--shell", env={"SHELL": "/bin/bash"})
    assert result.exit_code == 0
    assert result.stdout == "export OMERO_PROFILE=dev\n"
    assert not _state_file(isolated_env).exists()
    assert _snapshot(cfg) == before
    assert ed("use", "nosuch", "--shell").exit_code == 3


def test_use_is_per_profiles_file(tmp_path: Path, cfg: Path, ed, run) -> None:
    _write(cfg, COMMENTED)
    other = _write(tmp_path / "other.toml", COMMENTED)
    assert ed("use", "dev").exit_code == 0
    assert json.loads(run("--config", str(other), "current", "--json").stdout) == {
        "name": "prod", "reason": "default", "detail": f"default in {other}"}


def test_remove_of_the_active_profile_clears_the_choice(cfg: Path, ed, isolated_env: Path) -> None:
    _write(cfg, COMMENTED)
    assert ed("use", "dev").exit_code == 0
    result = ed("remove", "dev")
    assert result.exit_code == 0
    assert "'dev' was the active profile; the active choice is cleared." in result.stderr
    assert tomllib.loads(_state_file(isolated_env).read_text()) == {"active": {}}
    assert json.loads(ed("current", "--json").stdout)["reason"] == "default"


def test_remove_of_another_profile_keeps_the_choice(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED + '\n[profiles.tmp]\nhost = "t.org"\n')
    assert ed("use", "dev").exit_code == 0
    assert ed("remove", "tmp").exit_code == 0
    assert json.loads(ed("current", "--json").stdout)["name"] == "dev"


def test_precedence_argument_env_state_default(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED + '\n[profiles.staging]\nhost = "staging.example.org"\n')

    def current(env: dict[str, str] | None = None) -> tuple[str, str]:
        data = json.loads(ed("current", "--json", env=env).stdout)
        return data["name"], data["reason"]

    def shown(*name: str, env: dict[str, str] | None = None) -> tuple[str, str]:
        data = json.loads(ed("show", *name, "--json", env=env).stdout)
        return data["name"], data["selected"]

    assert current() == ("prod", "default") == shown()
    assert ed("use", "dev").exit_code == 0
    assert current() == ("dev", "state") == shown()
    env = {"OMERO_PROFILE": "staging"}
    assert current(env) == ("staging", "env") == shown(env=env)
    assert shown("prod", env=env) == ("prod", "argument")
    assert ed("use", "--clear").exit_code == 0
    assert current() == ("prod", "default")


def test_no_selection_lists_the_choices(cfg: Path, ed) -> None:
    _write(cfg, '[profiles.a]\nhost = "a.org"\n[profiles.b]\nhost = "b.org"\n')
    result = ed("current")
    assert result.exit_code == 3
    assert "no profile selected" in result.stderr and "Available: a, b." in result.stderr


# -- init ---------------------------------------------------------------------------------------------
def test_init_writes_the_example_and_refuses_to_overwrite(user_file: Path, run) -> None:
    result = run("init")
    assert result.exit_code == 0, result.stderr
    assert user_file.read_text(encoding="utf-8") == EXAMPLE
    assert stat.S_IMODE(user_file.stat().st_mode) == 0o600
    assert run("validate").exit_code == 0
    os.utime(user_file, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    before = _snapshot(user_file)
    again = run("init")
    assert again.exit_code == 2
    assert f"{user_file} already exists; nothing was written" in again.stderr
    assert _snapshot(user_file) == before


def test_init_honours_config_and_the_env_file(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = tmp_path / "a" / "profiles.toml"
    assert run("--config", str(explicit), "init").exit_code == 0
    assert explicit.read_text(encoding="utf-8") == EXAMPLE
    from_env = tmp_path / "b" / "profiles.toml"
    monkeypatch.setenv("OMERO_PROFILES_FILE", str(from_env))
    assert run("init").exit_code == 0
    assert from_env.read_text(encoding="utf-8") == EXAMPLE


# -- the Python API -----------------------------------------------------------------------------------
def test_edit_functions_directly(cfg: Path) -> None:
    _write(cfg, COMMENTED)
    locations = locate(cfg)
    text = edit_user_file(locations, add_profile("lab", {"host": "lab.org", "credentials": {"source": "env"}}))
    lab = '\n[profiles.lab]\nhost = "lab.org"\ncredentials = { source = "env" }\n'
    assert text == cfg.read_text() == COMMENTED + lab
    edit_user_file(locations, set_key("lab", "credentials.username", "me"))
    assert 'credentials = { source = "env", username = "me" }' in cfg.read_text()
    edit_user_file(locations, set_key("lab", "credentials.username", None, unset=True))
    edit_user_file(locations, remove_profile("lab"))
    assert cfg.read_text() == COMMENTED
    before = _snapshot(cfg)
    with pytest.raises(ConfigError) as refused:
        edit_user_file(locations, set_key("prod", "port", 0))
    assert refused.value.exit_code == 2
    assert [(p.profile, p.key) for p in refused.value.problems] == [("prod", "port")]
    with pytest.raises(ProfileNotFound):
        edit_user_file(locations, remove_profile("nosuch"))
    with pytest.raises(ConfigError):
        set_key("prod", "a.b", 1)
    assert _snapshot(cfg) == before


def test_edit_functions_on_a_document_in_memory() -> None:
    """An edit is a function of the parsed document that returns the new text."""
    text = add_profile("lab", {"host": "lab.org"})(tomlkit.parse(COMMENTED))
    assert "[profiles.lab]" in text
    assert remove_profile("lab")(tomlkit.parse(text)) == COMMENTED
    text = remove_profile("dev")(tomlkit.parse(COMMENTED))
    text = remove_profile("prod")(tomlkit.parse(text))
    assert text == COMMENTED.split("\n# The facility server.")[0]


@pytest.mark.parametrize(("key", "raw", "value"), [
    ("port", "4064", 4064),
    ("secure", "false", False),
    ("group", "-1", -1),
    ("group", "Lab A", "Lab A"),
    ("group", '"53"', "53"),
    ("timeout", "2.5", 2.5),
    ("su", "1234", "1234"),
    ("host", "true", "true"),
    ("command", '["pass", "show", "omero"]', ["pass", "show", "omero"]),
])
def test_parse_value(key: str, raw: str, value: object) -> None:
    assert parse_value(key, raw) == value


# -- hardening: layouts tomlkit cannot extend, reserved names, values that are not numbers -------
LAYOUTS = {
    "split-by-defaults": '[profiles.a]\nhost = "a.org"\nport = 1\n\n[defaults]\ntimeout = 5\n\n'
                         '[profiles.b]\nhost = "b.org"\n',
    "dotted-keys": 'profiles.a.host = "a.org"\nprofiles.a.port = 1\nprofiles.b.host = "b.org"\n',
    "dotted-keys-then-tables": 'default = "a"\nprofiles.a.host = "a.org"\nprofiles.a.port = 1\n'
                               'profiles.b.host = "b.org"\n\n[defaults]\ntimeout = 5\n',
    "sub-table-split-off": '[profiles.a]\nhost = "a.org"\nport = 1\n[profiles.b]\nhost = "b.org"\n'
                           '[profiles.a.credentials]\nsource = "env"\n',
}


def _expected(data: dict, name: str, key: str, value: object) -> dict:
    data["profiles"][name][key] = value
    return data


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_edits_of_split_and_dotted_layouts_change_exactly_what_was_asked(layout: str, cfg: Path, ed) -> None:
    """tomlkit hands these to us as a proxy without .add (was: AttributeError, exit 1)."""
    text = LAYOUTS[layout]
    _write(cfg, text)
    want = tomllib.loads(text)
    for args, change in [
        (("add", "z", "--host", "z.org"), lambda d: d["profiles"].__setitem__("z", {"host": "z.org"})),
        (("set", "a", "port", "4063"), lambda d: _expected(d, "a", "port", 4063)),
        (("set", "b", "secure", "false"), lambda d: _expected(d, "b", "secure", False)),
        (("set", "b", "credentials", '{ source = "env" }'), lambda d: _expected(d, "b", "credentials",
                                                                              {"source": "env"})),
        (("set", "b", "credentials.username", "bob"), lambda d: d["profiles"]["b"]["credentials"].update(
            username="bob")),
        (("unset", "a", "port"), lambda d: d["profiles"]["a"].pop("port")),
        (("remove", "z"), lambda d: d["profiles"].pop("z")),
        (("add", "y", "--host", "y.org", "--make-default"), lambda d: (
            d["profiles"].__setitem__("y", {"host": "y.org"}), d.__setitem__("default", "y"))),
    ]:
        result = ed(*args)
        assert result.exit_code == 0, (args, result.stderr)
        change(want)
        assert tomllib.loads(cfg.read_text()) == want, (args, cfg.read_text())
    assert ed("validate").exit_code == 0


def test_an_edit_that_would_change_more_than_asked_is_refused(cfg: Path, ed) -> None:
    """Profiles as dotted keys inside [profiles]: emptying 'a' makes tomlkit drop it whole."""
    _write(cfg, '[profiles]\na.host = "a.org"\nb.host = "b.org"\n')
    before = _snapshot(cfg)
    result = ed("unset", "a", "host")
    assert result.exit_code == 2
    assert (f"{cfg}: this change cannot be made to this file's layout without changing something else"
            in result.stderr)
    assert "nothing was written" in result.stderr
    assert _snapshot(cfg) == before


def test_the_name_defaults_is_reserved(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    before = _snapshot(cfg)
    result = ed("add", "defaults", "--host", "d.org")
    assert result.exit_code == 2
    assert ("cannot add profile 'defaults': 'defaults' is reserved ('omero-profile set defaults KEY VALUE' "
            "edits the [defaults] table)") in result.stderr
    assert _snapshot(cfg) == before
    assert ed("add", "lab", "--host", "lab.org", "--extends", "defaults").exit_code == 2
    assert _snapshot(cfg) == before
    assert ed("set", "defaults", "timeout", "7").exit_code == 0  # the word keeps its meaning
    assert tomllib.loads(cfg.read_text())["defaults"] == {"timeout": 7}


@pytest.mark.parametrize(("args", "message"), [
    (("set", "prod", "timeout", "nan"), "profile 'prod': timeout: not a number (nan)"),
    (("set", "prod", "timeout", "inf"), "profile 'prod': timeout: not a finite number (inf)"),
    (("set", "prod", "timeout", "-inf"), "profile 'prod': timeout: not a finite number (-inf)"),
    (("set", "defaults", "timeout", "nan"), "[defaults]: timeout: not a number (nan)"),
    (("set", "prod", "credentials", '{ source = "command", command = "x", timeout = nan }'),
     "profile 'prod': credentials.timeout: not a number (nan)"),
    (("add", "new", "--host", "n.org", "--timeout", "nan"), "profile 'new': timeout: not a number (nan)"),
    (("add", "new", "--host", "n.org", "--timeout", "inf"), "profile 'new': timeout: not a finite number (inf)"),
])
def test_nan_and_inf_are_not_numbers(args: tuple[str, ...], message: str, cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    before = _snapshot(cfg)
    result = ed(*args)
    assert result.exit_code == 2
    assert f"omero-profile: error: {message}\n" in result.stderr
    assert "3600" not in result.stderr and "nothing was written" in result.stderr
    assert _snapshot(cfg) == before


def test_control_characters_in_values_cannot_fake_lines(cfg: Path, ed, isolated_env: Path) -> None:
    _write(cfg, COMMENTED)
    assert ed("set", "prod", "su", "x\nfake-row").exit_code == 0
    assert ed("set", "dev", "description", "x\r\nfake-row\x1b[2J").exit_code == 0
    state = _state_file(isolated_env)
    state.parent.mkdir(parents=True, exist_ok=True)  # the edits' lock directory is already there
    state.write_text(f'[active]\n"{cfg}" = "x\\nfake-row"\n')  # a hand-edited state file
    outputs = {args: ed(*args) for args in [("list",), ("show", "prod"), ("show", "dev"), ("current",)]}
    outputs[("current", "env")] = ed("current", env={"OMERO_PROFILE": "x\nfake-row"})
    for args, result in outputs.items():
        for stream in (result.stdout, result.stderr):
            assert "\x1b" not in stream and "\r" not in stream, args
            for line in stream.splitlines():
                assert "fake-row" not in line or "x\\nfake-row" in line or "x\\r\\nfake-row" in line, (args, line)
    assert "(su x\\nfake-row)" in outputs[("list",)].stdout
    assert "x\\nfake-row" in outputs[("show", "prod")].stdout
    assert "x\\r\\nfake-row\\u001b[2J" in outputs[("show", "dev")].stdout  # TOML escapes
    assert "'x\\nfake-row'" in outputs[("current",)].stderr and outputs[("current",)].exit_code == 3
    assert "'x\\nfake-row'" in outputs[("current", "env")].stderr


# -- hardening: the active choice never names a removed profile -----------------------------------
_SLOW_USE = """
import sys, time
from omeroprofiles import statefile
from omeroprofiles.cli import main

real = statefile.atomic_write

def slow(*args, **kwargs):
    print("checked", flush=True)  # 'use' has checked the profile and is about to record it
    time.sleep(2)
    real(*args, **kwargs)

statefile.atomic_write = slow
main(sys.argv[1:])
"""


def test_use_racing_remove_never_leaves_the_removed_profile_active(cfg: Path, ed, isolated_env: Path) -> None:
    _write(cfg, COMMENTED + '\n[profiles.x]\nhost = "x.org"\n')
    use = subprocess.Popen([sys.executable, "-c", _SLOW_USE, "--config", str(cfg), "use", "x"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert use.stdout is not None and use.stdout.readline() == "checked\n"
    remove = subprocess.run([_script(), "--config", str(cfg), "remove", "x"], capture_output=True, text=True,
                            timeout=60)
    _, use_err = use.communicate(timeout=60)
    assert use.returncode == 0, use_err
    assert remove.returncode == 0, remove.stderr
    assert "'x' was the active profile; the active choice is cleared." in remove.stderr  # it waited for 'use'
    assert tomllib.loads(_state_file(isolated_env).read_text()) == {"active": {}}
    current = ed("current", "--json")
    assert current.exit_code == 0 and json.loads(current.stdout)["name"] == "prod"


def test_use_after_remove_finds_the_profile_gone(cfg: Path, ed, isolated_env: Path) -> None:
    """The other order: 'use' re-reads the file under the lock, so it cannot record a removed name."""
    _write(cfg, COMMENTED + '\n[profiles.x]\nhost = "x.org"\n')
    from omeroprofiles.statefile import write_state_choice

    locations = locate(cfg)
    assert ed("remove", "x").exit_code == 0
    with pytest.raises(ProfileNotFound):
        write_state_choice(locations, "x")
    assert not _state_file(isolated_env).exists()


def test_current_explains_a_choice_whose_profile_was_removed_by_hand(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED + '\n[profiles.x]\nhost = "x.org"\n')
    assert ed("use", "x").exit_code == 0
    _write(cfg, COMMENTED)  # the user deletes [profiles.x] in an editor
    result = ed("current")
    assert result.exit_code == 3
    assert "the active profile 'x' (set by 'omero-profile use' in" in result.stderr
    assert f"is no longer defined in {cfg}: it was removed or renamed after 'omero-profile use' chose it." \
        in result.stderr
    assert "Available: prod, dev." in result.stderr
    assert "hint: choose another with 'omero-profile use NAME', or forget the choice with " \
           "'omero-profile use --clear'" in result.stderr
    assert ed("use", "--clear").exit_code == 0
    assert json.loads(ed("current", "--json").stdout)["name"] == "prod"


@pytest.mark.parametrize(("text", "args", "message"), [
    ('defaults = 5\n[profiles.a]\nhost = "a.org"\n', ("set", "defaults", "timeout", "5"),
     "[defaults] is not a table; cannot set 'timeout'"),
    ('defaults = 5\n[profiles.a]\nhost = "a.org"\n', ("unset", "defaults", "timeout"),
     "[defaults] is not a table; cannot set 'timeout'"),
    ('[profiles.a]\nhost = "a.org"\ncredentials = "env"\n', ("set", "a", "credentials.username", "bob"),
     "'credentials' of 'a' is not a table; cannot set 'credentials.username'"),
])
def test_editing_inside_a_value_that_is_not_a_table_is_refused(text: str, args: tuple[str, ...], message: str,
                                                                cfg: Path, ed) -> None:
    """Was: TypeError from tomlkit ('in' on an integer), exit 1."""
    _write(cfg, text)
    before = _snapshot(cfg)
    result = ed(*args)
    assert result.exit_code == 2
    assert f"omero-profile: error: {cfg}: {message}\n" in result.stderr
    assert _snapshot(cfg) == before


@pytest.mark.parametrize(("args", "code"), [
    (("set", "prod", "x\nfake-row", "1"), 2),
    (("set", "prod", "credentials.x\nfake-row", "1"), 2),
    (("set", "defaults", "x\nfake-row", "1"), 2),
    (("unset", "prod", "x\nfake-row"), 2),
    (("add", "a\nfake-row", "--host", "h.org"), 2),
    (("remove", "prod\nfake-row"), 3),
    (("use", "prod\nfake-row"), 3),
    (("set", "prod\nfake-row", "port", "1"), 3),
    (("unset", "prod\nfake-row", "port"), 3),
])
def test_names_and_keys_with_control_characters_are_escaped_in_errors(args: tuple[str, ...], code: int,
                                                                      cfg: Path, ed) -> None:
    """Messages are split into lines before they are escaped: text from the command line is escaped first."""
    _write(cfg, COMMENTED)
    before = _snapshot(cfg)
    result = ed(*args)
    assert result.exit_code == code, result.stderr
    assert "\\nfake-row" in result.stderr
    assert all("fake-row" not in line or "\\nfake-row" in line for line in result.stderr.splitlines()), result.stderr
    assert _snapshot(cfg) == before


def test_adding_a_secret_to_a_file_others_can_read_makes_it_private(cfg: Path, ed) -> None:
    _write(cfg, COMMENTED)
    cfg.chmod(0o644)
    result = ed("add", "lab", "--host", "lab.example.org", "--source", "plain", "--username", "u",
                "--ask-password", "--stdin", input="s3cret-typed\n")
    assert result.exit_code == 0, result.stderr
    assert "was readable by other users (mode 0644); it now has mode 0600 because it holds a secret" in result.stderr
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert "s3cret-typed" not in result.stdout + result.stderr
    assert tomllib.loads(cfg.read_text())["profiles"]["lab"]["credentials"]["password"] == "s3cret-typed"
    not_secret = ed("add", "lab2", "--host", "h", "--source", "env", "--ask", "username_var", "--stdin", input="X\n")
    assert not_secret.exit_code == 2 and "keeps no secret in username_var" in not_secret.stderr
