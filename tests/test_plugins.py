"""The plugin registry: builtins through the hook, in-process plugins, real entry points, broken plugins."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from omeroprofiles import CredentialError, hookimpl, load_profile
from omeroprofiles.connection import fetch_credentials
from omeroprofiles.credentials import Credentials, CredentialSource, SourceConfig
from omeroprofiles.plugins import Registry, get_registry


def test_builtins_register_through_the_hook():
    registry = Registry(load_entry_points=False)
    impls = registry.pm.hook.omeroprofiles_credential_sources.get_hookimpls()
    assert [i.plugin_name for i in impls] == ["builtin"]
    assert set(registry.sources) == {"env", "prompt", "command", "keyring", "plain", "session"}
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


def test_plugin_with_bad_return_is_disabled_not_fatal():
    class Bad:
        @staticmethod
        @hookimpl
        def omeroprofiles_credential_sources():
            return [object]

    class Raising:
        @staticmethod
        @hookimpl
        def omeroprofiles_credential_sources():
            raise RuntimeError("boom")

    registry = Registry(load_entry_points=False)
    assert registry.register(Bad, name="bad").status == "disabled"
    info = registry.register(Raising, name="raising")
    assert info.status == "disabled" and "RuntimeError: boom" in info.error
    assert "env" in registry.sources


def test_duplicate_source_name_is_ignored_with_a_note():
    class Dup(CredentialSource):
        name = "env"

    class DupPlugin:
        @staticmethod
        @hookimpl
        def omeroprofiles_credential_sources():
            return [Dup]

    registry = Registry(load_entry_points=False)
    info = registry.register(DupPlugin, name="dup")
    assert "already provided by plugin 'builtin'" in info.error
    assert registry.sources["env"].plugin == "builtin"


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
               '[profiles.needs-broken]\nhost = "h"\ncredentials = { source = "omero_profiles_broken" }\n')
    code = f"""
import json, sys
sys.path.insert(0, {str(target)!r})
from omeroprofiles.plugins import get_registry
from omeroprofiles import load_profile, ConfigError
info = get_registry().plugins["omero_profiles_broken"]
out = {{"status": info.status, "error": info.error, "dist": info.distribution, "version": info.version}}
out["ok_host"] = load_profile("ok").host
try:
    load_profile("needs-broken")
except ConfigError as exc:
    out["broken_error"] = str(exc)
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    assert result["status"] == "disabled"
    assert result["error"] == "import failed: ImportError: needs libfoo"
    assert (result["dist"], result["version"]) == ("omero-profiles-broken", "9.8.7")
    assert result["ok_host"] == "h"
    assert "unknown credential source 'omero_profiles_broken'" in result["broken_error"]
    assert "plugin 'omero_profiles_broken' is disabled: import failed" in result["broken_error"]


def test_plugins_command_json(run):
    result = run("plugins", "--json")
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["builtin"]["sources"] == ["env", "prompt", "command", "keyring", "plain", "session"]
    assert rows["netrc"]["distribution"] == "omero-profiles-netrc"
