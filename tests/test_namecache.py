"""The name cache behind `current` and TAB: used while the files are unchanged, never stale, never a secret.

Tests set ``SETTLE_NS = 0`` (files a test writes are always "just changed", which the cache does
not store; one test keeps the real rule). Every edit between runs must show in the next answer;
``_no_parse`` proves an answer came from the cache. Each answer is also checked against the
same question with the cache off, and test_quick.py checks those against the click command.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from file_helpers import cache_files, rewrite_keeping_size_and_mtime

from omeroprofiles import cachefile, catalog, namecache, quick
from omeroprofiles.locations import locate

SCRIPT = Path(sys.executable).with_name("omero-profile")
CANARY = "canary-Pw-5e1d0b"

PROFILES = f"""
default = "prod"

[profiles.prod]
host = "omero.example.org"
credentials = {{ source = "plain", username = "alice", password = "{CANARY}" }}

[profiles.dev1]
host = "dev1.example.org"

[profiles.dev2]
extends = "dev1"
"""

QUESTIONS = {
    "current": (["current"], {}),
    "current --json": (["current", "--json"], {}),
    "bash show d": ([], {"_OMERO_PROFILE_COMPLETE": "bash_complete", "COMP_WORDS": "omero-profile show d",
                         "COMP_CWORD": "2"}),
    "zsh use": ([], {"_OMERO_PROFILE_COMPLETE": "zsh_complete", "COMP_WORDS": "omero-profile use ",
                     "COMP_CWORD": "2"}),
    "fish test p": ([], {"_OMERO_PROFILE_COMPLETE": "fish_complete", "COMP_WORDS": "omero-profile test p",
                         "COMP_CWORD": "p"}),
}


@pytest.fixture
def settled(monkeypatch):
    """Files count as settled at once (the settle rule has its own test)."""
    monkeypatch.setattr(namecache, "SETTLE_NS", 0)


@pytest.fixture
def names_dir(isolated_env: Path) -> Path:
    return isolated_env / ".cache" / "omero-profiles" / "names"


def _answers(*config: str) -> dict[str, str | tuple[int, str] | None]:
    """Each question's stdout; (status, stderr) for an error; None when quick declines."""
    prefix = ["--config", *config] if config else []
    out = {}
    for label, (argv, extra) in QUESTIONS.items():
        environ = {**os.environ, **extra}
        if extra:
            words = " ".join(["omero-profile", *prefix, ""])
            environ["COMP_WORDS"] = extra["COMP_WORDS"].replace("omero-profile ", words)
            if extra["_OMERO_PROFILE_COMPLETE"] != "fish_complete":
                environ["COMP_CWORD"] = str(int(extra["COMP_CWORD"]) + len(prefix))
        done = quick.answer([*prefix, *argv], environ)
        out[label] = None if done is None else done.out if done.status == 0 else (done.status, done.err)
    return out


def _uncached(monkeypatch, *config: str) -> dict[str, str | tuple[int, str] | None]:
    monkeypatch.setenv("OMERO_PROFILES_NO_CACHE", "1")
    try:
        return _answers(*config)
    finally:
        monkeypatch.delenv("OMERO_PROFILES_NO_CACHE")


def _no_parse(monkeypatch):
    """From now on, parsing the files fails: an answer that still comes was read from the cache."""
    def refuse(locations):
        raise AssertionError("the files were parsed: the name cache was not used")
    monkeypatch.setattr(catalog, "load", refuse)


def test_unchanged_files_are_answered_from_the_cache(write_user, settled, names_dir, monkeypatch):
    write_user(PROFILES)
    fresh = _uncached(monkeypatch)
    assert fresh["current"] == f"prod    (default in {locate(None).user_file})\n"
    assert fresh["bash show d"] == "plain,dev1\nplain,dev2\n"
    assert _answers() == fresh  # parsed, then stored
    [stored] = cache_files(names_dir)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    _no_parse(monkeypatch)
    assert _answers() == fresh
    monkeypatch.setenv("OMERO_PROFILE", "dev2")  # the environment and the state file are read each time
    assert _answers()["current"] == "dev2    (from $OMERO_PROFILE)\n"


def test_the_cache_never_holds_a_secret_or_a_table(write_user, settled, names_dir):
    write_user(PROFILES)
    _answers()
    [stored] = cache_files(names_dir)
    raw = stored.read_bytes()
    assert CANARY.encode() not in raw and b"alice" not in raw and b"example.org" not in raw


@pytest.mark.parametrize("edit", ["rename a profile in place", "change the default in place", "replace the file",
                                  "remove the file", "add a site file", "retarget a symlink", "break the file"])
def test_every_edit_between_runs_shows_in_the_next_answer(edit, write_user, write_site, user_file, settled,
                                                          names_dir, tmp_path, monkeypatch):
    if edit == "retarget a symlink":
        real = tmp_path / "dotfiles" / "a.toml"
        real.parent.mkdir()
        real.write_text(PROFILES)
        user_file.parent.mkdir(parents=True, exist_ok=True)
        user_file.symlink_to(real)
    else:
        write_user(PROFILES)
    before = _answers()
    assert cache_files(names_dir)
    if edit == "rename a profile in place":
        rewrite_keeping_size_and_mtime(user_file, "[profiles.dev2]", "[profiles.dev3]")
    elif edit == "change the default in place":
        rewrite_keeping_size_and_mtime(user_file, 'default = "prod"', 'default = "dev1"')
    elif edit == "replace the file":
        replacement = user_file.with_name("new.toml")
        replacement.write_text(PROFILES.replace("dev1", "devA"))
        os.replace(replacement, user_file)
    elif edit == "remove the file":
        user_file.unlink()
    elif edit == "add a site file":
        write_site('[profiles.dev0]\nhost = "site.example.org"\n')
    elif edit == "retarget a symlink":
        other = real.with_name("b.toml")
        other.write_text(PROFILES.replace('default = "prod"', 'default = "dev2"'))
        user_file.unlink()
        user_file.symlink_to(other)
    elif edit == "break the file":
        user_file.write_text(PROFILES + "[profiles.oops\n")
    after = _answers()
    assert after == _uncached(monkeypatch)
    assert after != before, edit


def test_a_catalog_with_problems_is_notcache_files(write_user, settled, names_dir):
    write_user(PROFILES.replace('[profiles.dev2]', '[profiles."bad name"]'))
    _answers()
    assert cache_files(names_dir) == []
    write_user(PROFILES + "[profiles.oops\n")
    assert _answers()["current"][0] == 2  # the syntax error, worded from the parsed files
    assert cache_files(names_dir) == []


def test_files_changed_within_the_settle_time_are_notcache_files(write_user, names_dir, monkeypatch):
    """Why the rule exists: a same-size rewrite within one timestamp tick would share every key field."""
    monkeypatch.setattr(namecache, "SETTLE_NS", 1_000_000_000)
    write_user(PROFILES)
    _answers()
    assert cache_files(names_dir) == []
    time.sleep(1.1)
    _answers()
    assert len(cache_files(names_dir)) == 1


def test_config_option_files_have_their_own_entry(write_user, settled, names_dir, tmp_path, monkeypatch):
    write_user(PROFILES)
    other = tmp_path / "other.toml"
    other.write_text('default = "x1"\n[profiles.x1]\nhost = "x.example.org"\n[profiles.dx]\nhost = "d.org"\n')
    mine, theirs = _answers(), _answers(str(other))
    assert len(cache_files(names_dir)) == 2 and mine != theirs
    _no_parse(monkeypatch)
    assert (_answers(), _answers(str(other))) == (mine, theirs)
    assert theirs["bash show d"] == "plain,dx\n"


@pytest.mark.parametrize("damage", ["garbage", "readable by others", "wrong shape", "negative file index",
                                    "a directory"])
def test_a_damaged_or_odd_cache_file_is_ignored_and_replaced(damage, write_user, settled, names_dir, monkeypatch):
    write_user(PROFILES)
    fresh = _answers()
    [stored] = cache_files(names_dir)
    if damage == "garbage":
        stored.write_bytes(b"\x00not json\xff")
    elif damage == "readable by others":
        os.chmod(stored, 0o644)
    elif damage in ("wrong shape", "negative file index"):
        key = namecache.cache_key(locate(None))
        data = {"files": [], "names": [["prod", 0]], "default": None} if damage == "wrong shape" else \
            {"files": [[str(locate(None).user_file), "user", True]], "names": [["ghost", -1]], "default": [None, None]}
        stored.unlink()
        cachefile.write(stored, key, data, prefix=".names-", slots=8)
    elif damage == "a directory":
        stored.unlink()
        stored.mkdir()
    assert _answers() == fresh
    if damage != "a directory":
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600  # replaced by a good one
        _no_parse(monkeypatch)
        assert _answers() == fresh


def test_a_change_to_the_code_that_reads_the_files_changes_the_key(write_user, settled, tmp_path, monkeypatch):
    write_user(PROFILES)
    package = tmp_path / "pkg"
    package.mkdir()
    for name in namecache._READERS:
        shutil.copy2(Path(namecache.__file__).with_name(name), package / name)
    monkeypatch.setattr(namecache, "_PACKAGE", package)
    first = namecache.cache_key(locate(None))
    os.utime(package / "names.py", ns=(0, 1))  # an upgrade or an edit
    second = namecache.cache_key(locate(None))
    assert second != first
    monkeypatch.setattr(sys, "version", sys.version + " (another build)")  # another interpreter's tomllib
    assert namecache.cache_key(locate(None)) != second


def test_no_cache_variable_turns_it_off(write_user, settled, names_dir, monkeypatch):
    write_user(PROFILES)
    monkeypatch.setenv("OMERO_PROFILES_NO_CACHE", "1")
    _answers()
    assert cache_files(names_dir) == []


def test_the_console_script_end_to_end_with_the_real_settle_time(write_user, user_file, names_dir):
    """No test hooks: the installed script stores names once the file has settled, and an in-place
    same-size edit with the mtime put back shows in the very next prompt."""
    write_user(PROFILES)
    time.sleep(namecache.SETTLE_NS / 1e9 + 0.2)

    def current() -> str:
        done = subprocess.run([str(SCRIPT), "current", "--json"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["name"]

    assert current() == "prod"
    assert len(cache_files(names_dir)) == 1
    rewrite_keeping_size_and_mtime(user_file, 'default = "prod"', 'default = "dev2"')
    assert current() == "dev2"
