"""The validated-index cache: used while nothing it depends on changed, never stale, never holding a secret.

Most tests run the CLI in-process with ``SETTLE_NS = 0`` (files written by a test are always "just
changed", and the cache does not store those; a test of that rule keeps it). Every edit between
runs must show up in the next run's output; ``_no_build`` proves a run was answered from the cache.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from file_helpers import cache_files, rewrite_keeping_size_and_mtime

from omeroprofiles import cache, index, plugins
from omeroprofiles.locations import locate

PROFILES = """
default = "prod"

[defaults]
timeout = 15

[profiles.prod]
host = "omero.example.org"
group = "Lab A"
credentials = { source = "env" }

[profiles.staging]
extends = "prod"
host = "stage.example.org"
"""

CANARY = "canary-Pw-7f3a9c"


@pytest.fixture
def settled(monkeypatch):
    """Files count as settled at once (the settle rule has its own test)."""
    monkeypatch.setattr(cache, "SETTLE_NS", 0)


@pytest.fixture
def cache_dir(isolated_env: Path) -> Path:
    return isolated_env / ".cache" / "omero-profiles" / "index"


def _no_build(monkeypatch):
    """From now on, building the index fails: a run that succeeds was answered from the cache."""
    def refuse(config):
        raise AssertionError("the index was built: the cache was not used")
    monkeypatch.setattr(cache, "build", refuse)


def _uncached(run, monkeypatch) -> dict[str, tuple[int, str, str]]:
    """The outputs with the cache off: every run validates afresh."""
    monkeypatch.setenv("OMERO_PROFILES_NO_CACHE", "1")
    try:
        return _outputs(run)
    finally:
        monkeypatch.delenv("OMERO_PROFILES_NO_CACHE")


def _outputs(run) -> dict[str, tuple[int, str, str]]:
    out = {}
    for args in (("list",), ("list", "--json"), ("show", "staging"), ("show", "prod", "--json"), ("validate",),
                 ("validate", "--json"), ("show", "nope")):
        result = run(*args)
        out[" ".join(args)] = (result.exit_code, result.stdout, result.stderr)
    return out


def test_unchanged_files_are_answered_from_the_cache(write_user, run, settled, cache_dir, monkeypatch):
    write_user(PROFILES)
    fresh = _uncached(run, monkeypatch)
    assert _outputs(run) == fresh
    assert len(cache_files(cache_dir)) == 1
    _no_build(monkeypatch)
    assert _outputs(run) == fresh
    assert fresh["list"][0] == 0 and "stage.example.org:4064" in fresh["list"][1]
    assert fresh["show nope"][0] == 3 and "did you mean" not in fresh["show nope"][2]


def test_the_cache_matches_a_fresh_build_for_every_kind_of_problem(write_user, write_site, run, settled, monkeypatch):
    write_site('[defaults]\nport = 4063\n[profiles.site]\nhost = "site.example.org"\n')
    write_user(PROFILES + '[profiles.bad]\nhots = "x"\n[profiles.loop-a]\nextends = "loop-b"\nhost = "h"\n'
               '[profiles.loop-b]\nextends = "loop-a"\n[profiles.orphan]\nextends = "nope"\n'
               '[profiles.url]\nhost = "wss://h.example.org/omero-ws"\nport = 1\n'
               '[profiles."bad name"]\nhost = "h"\n')
    fresh = _uncached(run, monkeypatch)
    assert fresh["validate"][0] == 2 and fresh["list"][0] == 2
    assert _outputs(run) == fresh
    _no_build(monkeypatch)
    assert _outputs(run) == fresh


def test_an_edit_of_the_same_size_with_the_mtime_put_back_is_seen(write_user, run, settled):
    path = write_user(PROFILES)
    assert "omero.example.org" in run("show", "prod").stdout
    rewrite_keeping_size_and_mtime(path, "omero.example.org", "other.example.org")
    assert "other.example.org" in run("show", "prod").stdout
    rewrite_keeping_size_and_mtime(path, 'group = "Lab A"', 'group = "Lab B"')
    assert '"group": "Lab B"' in run("list", "--json").stdout
    rewrite_keeping_size_and_mtime(path, "timeout = 15", "timeout = 1x")  # now invalid
    assert run("validate").exit_code == 2


def test_every_kind_of_edit_between_runs_is_seen(write_user, write_site, run, settled, user_file, tmp_path):
    assert "No profiles defined" in run("list").stdout
    write_user(PROFILES)  # created
    assert "prod" in run("list").stdout
    write_user(PROFILES + '[profiles.new]\nhost = "new.example.org"\n')  # grown
    assert "new.example.org" in run("list").stdout
    replacement = tmp_path / "replacement.toml"  # replaced by rename, as editors save
    replacement.write_text(PROFILES.replace("stage.example.org", "renamed.example.org"))
    os.replace(replacement, user_file)
    assert "renamed.example.org" in run("list").stdout
    write_site('[profiles.site]\nhost = "site.example.org"\n')  # the other file
    assert "site.example.org" in run("list").stdout
    user_file.unlink()  # removed
    assert run("list").stdout.split() == ["NAME", "HOST", "USER", "SOURCE", "GROUP", "site", "site.example.org:4064",
                                          "prompt"]
    os.symlink(tmp_path / "target.toml", user_file)  # a symlink, then its target changes
    (tmp_path / "target.toml").write_text('[profiles.t1]\nhost = "t1.example.org"\n')
    assert "t1.example.org" in run("list").stdout
    (tmp_path / "target2.toml").write_text('[profiles.t2]\nhost = "t2.example.org"\n')
    user_file.unlink()
    os.symlink(tmp_path / "target2.toml", user_file)
    assert "t2.example.org" in run("list").stdout


def test_the_active_choice_and_file_modes_are_never_cached(write_user, run, settled, monkeypatch):
    path = write_user(PROFILES.replace('credentials = { source = "env" }',
                                       'credentials = { source = "plain", username = "a", password = "pw" }'))
    path.chmod(0o600)
    assert "warning" not in run("validate").stderr
    path.chmod(0o644)  # (a chmod changes the ctime, so the index is rebuilt; the mode is looked at each time anyway)
    assert "readable by other users (mode 0644)" in run("validate").stderr
    assert json.loads(run("list", "--json").stdout)[0]["active"] is True
    _no_build(monkeypatch)
    assert "readable by other users (mode 0644)" in run("validate").stderr
    assert run("use", "staging").exit_code == 0
    assert [r["name"] for r in json.loads(run("list", "--json").stdout) if r["active"]] == ["staging"]
    monkeypatch.setenv("OMERO_PROFILE", "prod")
    assert [r["name"] for r in json.loads(run("list", "--json").stdout) if r["active"]] == ["prod"]
    assert json.loads(run("show", "--json").stdout)["selected"] == "env"


def test_explicit_config_is_part_of_the_key(run, settled, monkeypatch, tmp_path):
    missing = tmp_path / "missing.toml"
    assert run("--config", str(missing), "list").exit_code == 2
    monkeypatch.setenv("OMERO_PROFILES_FILE", str(missing))  # same file, not given with --config: no error
    assert run("list").exit_code == 0
    assert run("--config", str(missing), "list").exit_code == 2


def test_plugin_selection_by_environment_is_part_of_the_key(write_user, run, settled, monkeypatch):
    write_user('[profiles.n]\nhost = "h.example.org"\ncredentials = { source = "netrc" }\n')
    assert run("validate").stderr == ""
    monkeypatch.setenv("OMERO_PROFILES_PLUGINS", "")
    plugins.reset_registry()  # a new process would build a new registry
    assert "credentials source unavailable" in run("validate").stderr
    monkeypatch.delenv("OMERO_PROFILES_PLUGINS")
    plugins.reset_registry()
    assert run("validate").stderr == ""


def _fake_plugin(site: Path, version: str) -> None:
    """An installed distribution with an omeroprofiles entry point (what pip leaves in site-packages)."""
    for old in site.glob("omero_profiles_token-*.dist-info"):
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    info = site / f"omero_profiles_token-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: omero-profiles-token\nVersion: {version}\n")
    (info / "entry_points.txt").write_text("[omeroprofiles]\ntoken = omeroprofiles_token_plugin\n")
    summary = "v2 tokens" if version == "2.0" else "tokens"
    (site / "omeroprofiles_token_plugin.py").write_text(f"""
from omeroprofiles import hookimpl
from omeroprofiles.credentials import CredentialSource, SourceConfig

class TokenConfig(SourceConfig):
    user: str{' | None = None' if version == '2.0' else ''}

class TokenSource(CredentialSource):
    name = "token"
    config_model = TokenConfig
    summary = "{summary}"
    def fetch(self, profile, config):
        raise NotImplementedError
    def describe(self, config):
        return "token:" + str(config.user)

@hookimpl
def omeroprofiles_credential_sources():
    return [TokenSource]
""")


def test_installing_upgrading_or_removing_a_plugin_is_seen(write_user, run, settled, monkeypatch, tmp_path):
    write_user('[profiles.t]\nhost = "h.example.org"\ncredentials = { source = "token" }\n')
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    assert "unknown credential source 'token'" in run("validate").stdout  # not installed yet
    _fake_plugin(site, "1.0")
    plugins.reset_registry()
    assert "credentials.user: required key is missing" in run("validate").stdout  # installed
    _fake_plugin(site, "2.0")
    sys.modules.pop("omeroprofiles_token_plugin", None)
    plugins.reset_registry()
    assert run("validate").exit_code == 0  # upgraded: user is optional in 2.0
    assert "token:None" in run("list").stdout
    for f in site.iterdir():
        if f.is_dir():
            for g in f.iterdir():
                g.unlink()
            f.rmdir()
        else:
            f.unlink()
    sys.modules.pop("omeroprofiles_token_plugin", None)
    plugins.reset_registry()
    assert "unknown credential source 'token'" in run("validate").stdout  # removed


def test_a_plugin_registered_in_process_bypasses_the_cache(write_user, run, settled, monkeypatch):
    write_user('[profiles.t]\nhost = "h.example.org"\ncredentials = { source = "token" }\n')
    assert run("validate").exit_code == 2
    from omeroprofiles.credentials import CredentialSource, SourceConfig
    from omeroprofiles.hookspecs import hookimpl

    class TokenSource(CredentialSource):
        name = "token"
        config_model = SourceConfig

        def fetch(self, profile, config):
            raise NotImplementedError

    class Plugin:
        @hookimpl
        def omeroprofiles_credential_sources(self):
            return [TokenSource]

    registry = plugins.get_registry()
    registry.register(Plugin, name="in-process-token")
    assert cache.cache_key(locate()) is None
    assert run("validate").exit_code == 0
    registry.unregister("in-process-token")
    assert run("validate").exit_code == 2


def test_the_cache_never_holds_a_secret(write_user, write_site, run, settled, cache_dir, isolated_env):
    write_site(f'[defaults]\ncredentials = {{ source = "plain", username = "s", password = "{CANARY}-site" }}\n')
    write_user(f"""
[profiles.plain]
host = "omero.example.org"
credentials = {{ source = "plain", username = "alice", password = "{CANARY}-1" }}

[profiles.plain-bad]
host = "omero.example.org"
credentials = {{ source = "plain", username = "alice", password = "{CANARY}-2", pasword = "{CANARY}-3" }}

[profiles.plain-wrong-type]
host = "omero.example.org"
credentials = {{ source = "plain", username = "alice", password = ["{CANARY}-4"] }}

[profiles.in-url]
host = "ssl://alice:{CANARY}-5@omero.example.org"

[profiles.unavailable]
host = "omero.example.org"
credentials = {{ source = "netrc", file = "x", password = "{CANARY}-6" }}

[profiles.session]
host = "omero.example.org"
credentials = {{ source = "session", key = "{CANARY}-7" }}
""")
    for args in (("list",), ("list", "--json"), ("validate",), ("validate", "--json"), ("show", "plain"),
                 ("show", "session", "--json")):
        result = run(*args)
        assert CANARY not in result.stdout + result.stderr
    [stored] = cache_files(cache_dir)
    raw = stored.read_bytes()
    assert b'"plain-bad"' in raw and b"**********" in raw  # the profiles are there, masked
    for path in isolated_env.rglob("*"):
        if path.is_file() and "profiles.toml" not in path.name:
            assert CANARY.encode() not in path.read_bytes(), path


def test_cache_files_are_private_and_written_whole(write_user, run, settled, cache_dir):
    write_user(PROFILES)
    run("list")
    [stored] = cache_files(cache_dir)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    assert [p.name for p in cache_dir.iterdir()] == [stored.name]  # no temp file left behind
    header, body = stored.read_bytes().split(b"\n", 1)
    assert json.loads(header)["key"]["files"][1][0] == str(Path(os.environ["HOME"]) / ".config/omero-profiles"
                                                            / "profiles.toml")
    assert isinstance(json.loads(body), dict)


ODD = ["truncated", "garbage", "not utf-8", "wrong crc", "wrong shape", "wrong key", "empty", "group-readable",
       "directory", "fifo", "symlink elsewhere"]


@pytest.mark.parametrize("odd", ODD)
def test_a_damaged_or_odd_cache_file_is_ignored_and_rebuilt(write_user, run, settled, cache_dir, monkeypatch, odd,
                                                            tmp_path):
    write_user(PROFILES)
    fresh = _uncached(run, monkeypatch)
    assert _outputs(run) == fresh
    [stored] = cache_files(cache_dir)
    header, body = stored.read_bytes().split(b"\n", 1)
    bad = {
        "truncated": header + b"\n" + body[: len(body) // 2],
        "garbage": os.urandom(300),
        "not utf-8": b"\xff\xfe" + header + b"\n" + body,
        "wrong crc": header + b"\n" + body.replace(b"omero.example.org", b"evil0.example.org"),
        "empty": b"",
    }
    if odd == "wrong shape":
        payload = json.dumps({"files": 5}).encode()
        head = json.loads(header)
        head["crc32"] = __import__("zlib").crc32(payload)
        bad[odd] = json.dumps(head).encode() + b"\n" + payload
    if odd == "wrong key":
        head = json.loads(header)
        head["key"]["code"] = 0
        bad[odd] = json.dumps(head).encode() + b"\n" + body
    stored.unlink()
    if odd in bad:
        stored.write_bytes(bad[odd])
        stored.chmod(0o600)
    elif odd == "group-readable":
        stored.write_bytes(header + b"\n" + body)
        stored.chmod(0o640)
    elif odd == "directory":
        stored.mkdir()
    elif odd == "fifo":
        os.mkfifo(stored)
    elif odd == "symlink elsewhere":
        other = tmp_path / "elsewhere.json"
        other.write_bytes(header + b"\n" + body.replace(b"omero.example.org", b"evil0.example.org"))
        os.symlink(other, stored)
    assert _outputs(run) == fresh  # never an error, never the damaged content
    if odd not in ("directory", "fifo"):  # replaced by a good one
        assert stat.S_IMODE(os.lstat(stored).st_mode) == 0o600 and stat.S_ISREG(os.lstat(stored).st_mode)
        _no_build(monkeypatch)
        assert _outputs(run) == fresh


def test_an_unwritable_cache_dir_is_no_error(write_user, run, settled, isolated_env):
    write_user(PROFILES)
    (isolated_env / ".cache").write_text("a file where the cache dir should be")
    assert run("list").exit_code == 0 and run("validate").exit_code == 0


def test_a_file_changed_moments_ago_is_not_cached(write_user, run, cache_dir, monkeypatch):
    """A same-size rewrite within one timestamp tick keeps every stat field: so nothing that changed less than
    SETTLE_NS ago is stored; any change after a store then has a later ctime."""
    write_user(PROFILES)
    assert run("list").exit_code == 0
    assert cache_files(cache_dir) == []
    monkeypatch.setattr(cache, "SETTLE_NS", 0)
    assert run("list").exit_code == 0
    assert len(cache_files(cache_dir)) == 1


def test_the_off_switch(write_user, run, settled, cache_dir, monkeypatch):
    write_user(PROFILES)
    monkeypatch.setenv("OMERO_PROFILES_NO_CACHE", "1")
    assert run("list").exit_code == 0
    assert cache_files(cache_dir) == []


def test_only_a_few_index_files_are_kept(run, settled, cache_dir, tmp_path):
    for i in range(cache.SLOTS + 3):
        path = tmp_path / f"p{i}.toml"
        path.write_text(f'[profiles.p{i}]\nhost = "h{i}.example.org"\n')
        assert run("--config", str(path), "list").exit_code == 0
        time.sleep(0.01)
    assert len(cache_files(cache_dir)) == cache.SLOTS


def test_the_omero_profiles_code_is_part_of_the_key(write_user):
    """An upgrade, or an edit of an editable install, changes a module's mtime: the key changes."""
    module = Path(index.__file__)
    before = module.stat()
    first = cache._code_id()
    try:
        os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        assert cache._code_id() != first
    finally:
        os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert cache._code_id() == first


def test_list_from_the_cache_loads_no_pydantic_through_the_script(write_user):
    """End to end: the installed script answers `list` and `show` from the cache without pydantic or plugins."""
    write_user(PROFILES)
    time.sleep(cache.SETTLE_NS / 1e9 + 0.2)
    script = Path(sys.executable).with_name("omero-profile")
    first = subprocess.run([str(script), "list", "--json"], capture_output=True, text=True)
    assert first.returncode == 0
    probe = ("import sys\nfrom omeroprofiles.console import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n    code = exc.code\n"
             "heavy = sorted(m for m in ('pydantic', 'pluggy', 'omeroprofiles.plugins', 'omeroprofiles.resolve', "
             "'importlib.metadata') if m in sys.modules)\nprint('EXIT', code, 'HEAVY', heavy, file=sys.stderr)\n")
    subprocess.run([sys.executable, "-c", probe, "list"], capture_output=True, check=True)  # its own key: sys.path
    for args in (["list", "--json"], ["show", "staging"], ["validate"]):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
        assert "EXIT 0 HEAVY []" in done.stderr, (args, done.stderr)
    again = subprocess.run([str(script), "list", "--json"], capture_output=True, text=True)
    assert again.stdout == first.stdout
