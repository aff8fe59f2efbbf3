"""The plugin registry: builtins through the hook, in-process plugins, real entry points, broken plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from omeroprofiles import CredentialError, hookimpl, load_profile
from omeroprofiles.credentials import Credentials, CredentialSource, SourceConfig
from omeroprofiles.fetch import fetch_credentials
from omeroprofiles.plugins import Registry, get_registry


def test_builtins_register_through_the_hook():
    registry = Registry(load_entry_points=False)
    impls = registry.pm.hook.omeroprofiles_credential_sources.get_hookimpls()
    assert [i.plugin_name for i in impls] == ["builtin"]
    assert set(registry.sources) == {"env", "prompt", "command", "keyring", "plain", "session", "omero-login",
                                     "user-token"}
    assert registry.plugins["builtin"].distribution == "omero-profiles"


class TokenConfig(SourceConfig):
    token_user: str


class TokenSource(CredentialSource):
    name = "token-test"
    config_model = TokenConfig

    def fetch(self, profile, config):
        return Credentials(username=config.token_user, password="from-plugin")


class InProcessPlugin:
    @staticmethod
    @hookimpl
    def omeroprofiles_credential_sources():
        return [TokenSource]


def test_in_process_plugin_register_and_unregister(write_user):
    write_user('[profiles.t]\nhost = "h"\ncredentials = { source = "token-test", token_user = "ann" }\n')
    registry = get_registry()
    registry.register(InProcessPlugin, name="token-test-plugin")
    try:
        profile = load_profile("t")
        assert profile.credentials.token_user == "ann"
        creds = fetch_credentials(profile)
        assert creds.username == "ann" and creds.password.get_secret_value() == "from-plugin"
    finally:
        registry.unregister("token-test-plugin")
    assert "token-test" not in registry.sources


def _plugin(*classes):
    class Plugin:
        @staticmethod
        @hookimpl
        def omeroprofiles_credential_sources():
            return list(classes)
    return Plugin


def test_plugin_whose_hook_raises_is_disabled_not_fatal():
    class Raising:
        @staticmethod
        @hookimpl
        def omeroprofiles_credential_sources():
            raise RuntimeError("boom")

    registry = Registry(load_entry_points=False)
    info = registry.register(Raising, name="raising")
    assert info.status == "disabled"
    assert info.problems == ["hook omeroprofiles_credential_sources failed: RuntimeError: boom"]
    assert "env" in registry.sources


def test_abstract_source_is_refused_at_registration_not_at_connect():
    class NoFetch(CredentialSource):
        name = "no-fetch"

    registry = Registry(load_entry_points=False)
    info = registry.register(_plugin(NoFetch), name="lazy")
    assert info.status == "disabled"
    assert info.problems == ["NoFetch (source 'no-fetch') does not implement fetch"]
    assert "no-fetch" not in registry.sources


def test_one_bad_class_leaves_the_plugin_partly_loaded_with_every_problem_listed():
    class DupEnv(TokenSource):
        name = "env"

    class DupPlain(TokenSource):
        name = "plain"

    registry = Registry(load_entry_points=False)
    info = registry.register(_plugin(TokenSource, object, DupEnv, DupPlain), name="mixed")
    assert info.status == "partly loaded"
    assert info.sources == ["token-test"]
    assert registry.sources["token-test"].plugin == "mixed"
    assert info.problems == [
        "<class 'object'> is not a subclass of omeroprofiles.credentials.CredentialSource",
        "source 'env' is already provided by plugin 'builtin'; ignored",
        "source 'plain' is already provided by plugin 'builtin'; ignored",
    ]
    assert registry.sources["env"].plugin == "builtin"


def test_registering_twice_is_an_error_that_changes_nothing():
    registry = Registry(load_entry_points=False)
    plugin = _plugin(TokenSource)
    first = registry.register(plugin, name="tok")
    assert first.status == "ok"
    with pytest.raises(ValueError, match="a plugin named 'tok' is registered already"):
        registry.register(_plugin(TokenSource), name="tok")
    with pytest.raises(ValueError, match="this plugin object is registered already as 'tok'"):
        registry.register(plugin, name="tok-again")
    assert registry.plugins["tok"] is first and first.status == "ok" and "tok-again" not in registry.plugins
    assert registry.sources["token-test"].plugin == "tok"


def test_fetch_uses_the_registry_the_profile_was_loaded_with(write_user):
    write_user('[profiles.t]\nhost = "h"\ncredentials = { source = "token-test", token_user = "ann" }\n')
    private = Registry(load_entry_points=False)
    private.register(_plugin(TokenSource), name="tok")
    from omeroprofiles.resolve import Config

    profile = Config.load(registry=private).resolve("t")
    assert "token-test" not in get_registry().sources  # the global registry does not know it
    assert fetch_credentials(profile).username == "ann"


def test_separately_packaged_plugin_loads_through_its_entry_point(write_user, tmp_path, monkeypatch):
    """plugins/omero-profiles-netrc is its own distribution, installed by the set-up script."""
    registry = get_registry()
    assert registry.plugins["netrc"].distribution == "omero-profiles-netrc"
    assert registry.plugins["netrc"].status == "ok"
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text("machine omero.example.org login ann password netrc-pw\n")
    netrc_file.chmod(0o600)
    source = f'credentials = {{ source = "netrc", file = "{netrc_file}" }}\n'
    write_user(f'[profiles.n]\nhost = "omero.example.org"\n{source}[profiles.m]\nhost = "other.example.org"\n{source}')
    creds = fetch_credentials(load_profile("n"))
    assert creds.username == "ann" and creds.password.get_secret_value() == "netrc-pw"
    with pytest.raises(CredentialError, match="no login/password for machine 'other.example.org'"):
        fetch_credentials(load_profile("m"))


def test_env_var_limits_entry_point_plugins(monkeypatch):
    monkeypatch.setenv("OMERO_PROFILES_PLUGINS", "")
    assert "netrc" not in Registry().plugins
    monkeypatch.setenv("OMERO_PROFILES_PLUGINS", "netrc")
    assert "netrc" in Registry().plugins


def _install_dist(tmp_path: Path, name: str, module_source: str) -> Path:
    """Build and install a real distribution with an omeroprofiles entry point into a target dir."""
    src = tmp_path / f"src-{name}"
    pkg = name.replace("-", "_")
    (src / pkg).mkdir(parents=True)
    (src / pkg / "__init__.py").write_text(textwrap.dedent(module_source))
    (src / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{name}"
        version = "9.8.7"
        [project.entry-points.omeroprofiles]
        {pkg} = "{pkg}"
        [tool.setuptools]
        packages = ["{pkg}"]
    """))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(src)], check=True, capture_output=True)
    return target


def test_broken_plugin_is_disabled_and_only_its_profiles_fail(tmp_path, write_user):
    target = _install_dist(tmp_path, "omero-profiles-broken", "raise ImportError('needs libfoo')\n")
    write_user('[profiles.ok]\nhost = "h"\ncredentials = { source = "env" }\n'
               '[profiles.needs-broken]\nhost = "h"\ncredentials = { source = "broken", token = "tok-123" }\n')
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = """
import json
from omeroprofiles.plugins import get_registry
info = get_registry().plugins["omero_profiles_broken"]
print(json.dumps({"status": info.status, "problems": info.problems, "dist": info.distribution,
                  "version": info.version}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    result = json.loads(done.stdout)
    assert result == {"status": "disabled", "problems": ["import failed: ImportError: needs libfoo"],
                      "dist": "omero-profiles-broken", "version": "9.8.7"}
    cli = [sys.executable, "-m", "omeroprofiles"]
    ok = subprocess.run([*cli, "show", "ok"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    shown = subprocess.run([*cli, "show", "needs-broken"], capture_output=True, text=True, env=env)
    assert shown.returncode == 0 and "tok-123" not in shown.stdout and 'token = "**********"' in shown.stdout
    failed = subprocess.run([*cli, "test", "needs-broken"], capture_output=True, text=True, env=env)
    assert failed.returncode == 4, failed.stderr  # the credential source failed, as documented
    assert "credential source 'broken' is not available" in failed.stderr
    assert "plugin 'omero_profiles_broken' (omero-profiles-broken) is disabled: import failed" in failed.stderr
    validated = subprocess.run([*cli, "validate"], capture_output=True, text=True, env=env)
    assert validated.returncode == 0
    assert "warning: profile 'needs-broken': credentials source unavailable" in validated.stderr


def test_plugins_env_var_names_are_checked_and_exclusions_explained(write_user, monkeypatch, run):
    monkeypatch.setenv("OMERO_PROFILES_PLUGINS", "netrc-typo")
    write_user('[profiles.n]\nhost = "h"\ncredentials = { source = "netrc" }\n')
    installed = sorted(ep.name for ep in metadata.entry_points(group="omeroprofiles"))  # netrc, vault, ...
    registry = Registry()
    assert registry.warnings == ["$OMERO_PROFILES_PLUGINS names 'netrc-typo', which is not installed "
                                 f"(installed: {', '.join(installed)})"]
    assert "netrc" in installed and sorted(registry.excluded) == installed
    listed = json.loads(run("plugins", "--json").stdout)
    assert listed["warnings"] == registry.warnings and sorted(listed["excluded"]) == installed
    assert "warning: $OMERO_PROFILES_PLUGINS names 'netrc-typo'" in run("plugins").stdout
    with pytest.raises(CredentialError, match=r"OMERO_PROFILES_PLUGINS='netrc-typo' leaves out the installed "
                                              r"plugin\(s\) .*\bnetrc\b"):
        fetch_credentials(load_profile("n"))


def test_plugins_command_shows_summaries_and_problems(run):
    result = run("plugins", "--json")
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.stdout)["plugins"]}
    assert [s["name"] for s in rows["builtin"]["sources"]] == ["env", "prompt", "command", "keyring", "plain",
                                                               "session", "omero-login", "user-token"]
    assert all(s["summary"] for s in rows["builtin"]["sources"])
    assert rows["netrc"]["distribution"] == "omero-profiles-netrc" and rows["netrc"]["status"] == "ok"
    assert rows["netrc"]["sources"] == [{"name": "netrc",
                                         "summary": "a netrc file (machine HOST login USER password PASSWORD)"}]
    text = run("plugins").stdout
    assert "a netrc file (machine HOST login USER password PASSWORD)" in text


TOKEN_PLUGIN = '''
from pydantic import SecretStr
from omeroprofiles import hookimpl
from omeroprofiles.credentials import Credentials, CredentialSource, SourceConfig

class TokenFileConfig(SourceConfig):
    username: str
    token: SecretStr
    api_key: SecretStr | None = None

class TokenFileSource(CredentialSource):
    name = "tokenfile"
    config_model = TokenFileConfig
    summary = "a token written in the profile"

    def fetch(self, profile, config):
        return Credentials(username=config.username, password=config.token)

@hookimpl
def omeroprofiles_credential_sources():
    return [TokenFileSource]
'''


def test_a_third_party_secret_field_is_treated_like_ours(tmp_path, write_user):
    """Installed as a distribution (entry point), not registered in-process."""
    target = _install_dist(tmp_path, "omero-profiles-tokenfile", TOKEN_PLUGIN)
    path = write_user('[profiles.t]\nhost = "h.example.org"\n'
                      'credentials = { source = "tokenfile", username = "ann", token = "canary-tok-991" }\n')
    path.chmod(0o644)
    env = {**os.environ, "PYTHONPATH": str(target)}
    cli = [sys.executable, "-m", "omeroprofiles"]

    def run_cli(*args, stdin=None):
        return subprocess.run([*cli, *args], capture_output=True, text=True, env=env, input=stdin)

    plugins = json.loads(run_cli("plugins", "--json").stdout)["plugins"]
    assert {p["name"]: p["status"] for p in plugins}["omero_profiles_tokenfile"] == "ok"
    for args in (("show", "t"), ("show", "t", "--json"), ("list", "--json"), ("validate", "--json")):
        done = run_cli(*args)
        assert done.returncode == 0, done.stderr
        assert "canary-tok-991" not in done.stdout + done.stderr, args
    assert 'token = "**********"' in run_cli("show", "t").stdout
    warned = run_cli("validate")
    assert "readable by other users (mode 0644) and holds a secret in profile(s) t" in warned.stderr
    before = path.read_bytes()
    for args in (("set", "t", "credentials.token", "canary-new-992"),
                 ("set", "t", "credentials.api_key", "canary-new-992"),
                 ("set", "t", "credentials", '{ source = "tokenfile", username = "u", token = "canary-new-992" }')):
        refused = run_cli(*args)
        assert refused.returncode == 2, refused.stderr
        assert "refusing to write a secret" in refused.stderr and "canary-new-992" not in refused.stderr
    assert path.read_bytes() == before
    asked = run_cli("set", "t", "credentials.token", "--stdin", stdin="canary-new-993\n")
    assert asked.returncode == 0, asked.stderr
    assert "it now has mode 0600 because it holds a secret" in asked.stderr
    assert 'token = "canary-new-993"' in path.read_text() and oct(path.stat().st_mode & 0o777) == "0o600"
    assert "canary-new-993" not in asked.stdout + asked.stderr
