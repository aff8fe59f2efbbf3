"""The contract every credential source must keep: a test suite plugin authors subclass.

Modelled on keyring's ``BackendBasicTests``. In your plugin's tests::

    from omeroprofiles.contract import CredentialSourceContract
    from my_plugin import MySource

    class TestMySource(CredentialSourceContract):
        source_class = MySource

        def working_table(self, ctx):              # a credentials table that logs in as ctx.user
            ctx.monkeypatch.setenv("MY_TOKEN", ctx.password)
            return {"source": "mysource", "username": ctx.user, "token_env": "MY_TOKEN"}

        def failing_table(self, ctx):              # optional: a table whose fetch must fail (exit 4)
            return {"source": "mysource", "username": ctx.user, "token_env": "UNSET_VAR"}

It needs pytest and the stand-in OMERO server's fixtures (``pip install omero-profiles-standin``,
which registers them as a pytest plugin); this module itself imports neither the stand-in nor
omero-py. Every test runs with its own HOME, XDG directories and no ``OMERO_*`` variables, and
calls ``working_table`` itself with its own ``ctx``: the table is built anew for every test, so
put slow set-up in a class-scoped fixture of your own (docs/plugins.md shows how).
The checks: the class registers through the hook (and its entry point, if ``entry_point`` is
set); its config model rejects unknown keys and wrong types; a secret is never in ``str``,
``repr``, JSON, ``show``, ``describe`` or an error (with its whole chained traceback); secret
values live in ``SecretStr`` fields; it connects to the stand-in and leaves no session open;
a failure is a ``CredentialError`` (exit 4 from the CLI, also with ``--debug``).
"""

from __future__ import annotations

import json
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from .api import get_conn
from .cli import cli
from .credentials.base import CredentialSource
from .errors import CredentialError
from .fetch import forget_all
from .hookspecs import hookimpl
from .plugins import Registry, get_registry, reset_registry, source_class_problem

PROFILE = "contract"


@dataclass
class ContractContext:
    """What a contract test gives your ``working_table``/``failing_table``."""

    server: Any
    """The stand-in server (``omero_server`` fixture)."""
    user: str
    """The stand-in user the working table must log in as."""
    password: str
    """That user's password (test data)."""
    tmp_path: Path
    """pytest's ``tmp_path`` for this test."""
    monkeypatch: pytest.MonkeyPatch
    """pytest's ``monkeypatch`` for this test: set environment variables with it."""
    profiles_file: Path
    """Where the suite writes the profile holding your table."""


def isolate_environment(home: Path, monkeypatch: pytest.MonkeyPatch, *,
                        prefixes: tuple[str, ...] = ("OMERO_", "XDG_")) -> Path:
    """Give a test its own HOME and XDG directories, no variable starting with ``prefixes``, no
    site-wide profiles file, and a fresh plugin registry and secret memory. Returns ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    for name in list(os.environ):
        if name.startswith(prefixes):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("OMERO_PROFILES_SYSTEM_FILE", str(home.parent / "site" / "profiles.toml"))
    reset_registry()
    forget_all()
    return home


def _plugin_for(cls: type[CredentialSource]) -> object:
    class ContractPlugin:
        @staticmethod
        @hookimpl
        def omeroprofiles_credential_sources() -> list[type[CredentialSource]]:
            return [cls]

    return ContractPlugin


def _wrong_type(value: Any) -> Any:
    """A value of a type a config key of ``value``'s type would not accept."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float):
        return "12"
    if isinstance(value, str):
        return {"not": "a string"}
    return 12


class CredentialSourceContract:
    """Subclass as ``class TestMySource(CredentialSourceContract)`` and set what is marked REQUIRED."""

    source_class: ClassVar[type[CredentialSource]]
    """REQUIRED: the source class under test."""
    user: ClassVar[str] = "alice"
    """The stand-in user the working table logs in as."""
    entry_point: ClassVar[str | None] = None
    """The name in the ``omeroprofiles`` entry-point group, to check the installed plugin loads."""
    any_type_keys: ClassVar[frozenset[str]] = frozenset()
    """Keys of the working table that accept any type (skipped by the wrong-type check)."""

    def working_table(self, ctx: ContractContext) -> dict[str, Any]:
        """REQUIRED: a credentials table with which ``fetch`` gives ``ctx.user``'s credentials.

        Called by every test that needs it, each with its own ``ctx``: keep it cheap."""
        raise NotImplementedError("define working_table(self, ctx) in your CredentialSourceContract subclass")

    def failing_table(self, ctx: ContractContext) -> dict[str, Any] | None:
        """A credentials table with which ``fetch`` must raise CredentialError; None skips those checks."""
        return None

    def secrets(self, ctx: ContractContext) -> list[str]:
        """Values that must never be shown: the user's password, plus any you add."""
        return [ctx.password]

    # -- fixtures -------------------------------------------------------------------------------
    @pytest.fixture(autouse=True)
    def _isolated(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        isolate_environment(tmp_path / "contract-home", monkeypatch)
        registry = get_registry()
        name = self.source_class.name
        registered = None
        if name not in registry.sources:
            registered = f"contract-{name}"
            registry.register(_plugin_for(self.source_class), name=registered)
        yield
        if registered is not None:
            registry.unregister(registered)
        reset_registry()
        forget_all()

    @pytest.fixture
    def ctx(self, omero_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ContractContext:
        profiles = tmp_path / "contract-home" / ".config" / "omero-profiles" / "profiles.toml"
        return ContractContext(omero_server, self.user, omero_server.users[self.user].password, tmp_path,
                               monkeypatch, profiles)

    def _write_profile(self, ctx: ContractContext, table: dict[str, Any]) -> None:
        import tomli_w

        ctx.profiles_file.parent.mkdir(parents=True, exist_ok=True)
        document = {"profiles": {PROFILE: {"host": ctx.server.host, "port": ctx.server.ssl_port, "timeout": 15,
                                           "keepalive": 0, "credentials": table}}}
        ctx.profiles_file.write_text(tomli_w.dumps(document), encoding="utf-8")
        ctx.profiles_file.chmod(0o600)

    def _assert_hidden(self, ctx: ContractContext, text: str, where: str) -> None:
        for secret in self.secrets(ctx):
            assert secret not in text, f"a secret is shown by {where}"

    # -- the contract ---------------------------------------------------------------------------
    def test_source_class_is_complete(self) -> None:
        assert source_class_problem(self.source_class) is None, source_class_problem(self.source_class)

    def test_registers_through_the_hook(self) -> None:
        registry = Registry(load_entry_points=False)
        info = registry.register(_plugin_for(self.source_class), name="under-test")
        assert info.status == "ok", info.problems
        assert info.sources == [self.source_class.name]

    def test_installed_entry_point_loads(self) -> None:
        if self.entry_point is None:
            pytest.skip("entry_point is not set: the plugin is not tested as an installed distribution")
        info = Registry().plugins.get(self.entry_point)
        assert info is not None, f"no '{self.entry_point}' entry point in the 'omeroprofiles' group is installed"
        assert info.status == "ok", info.problems
        assert self.source_class.name in info.sources

    def test_working_table_validates_and_names_the_source(self, ctx: ContractContext) -> None:
        table = self.working_table(ctx)
        assert table.get("source") == self.source_class.name
        self.source_class.config_model.model_validate(table)

    def test_unknown_keys_are_rejected(self, ctx: ContractContext) -> None:
        table = {**self.working_table(ctx), "no_such_key_xyz": 1}
        with pytest.raises(ValidationError):
            self.source_class.config_model.model_validate(table)
        self._write_profile(ctx, table)
        result = CliRunner().invoke(cli, ["validate"])
        assert result.exit_code == 2, result.output
        assert "credentials.no_such_key_xyz: unknown key" in result.output

    def test_wrong_types_are_rejected(self, ctx: ContractContext) -> None:
        table = self.working_table(ctx)
        for key, value in table.items():
            if key == "source" or key in self.any_type_keys:
                continue
            with pytest.raises(ValidationError):
                self.source_class.config_model.model_validate({**table, key: _wrong_type(value)})

    def test_secrets_in_the_table_are_secret_fields(self, ctx: ContractContext) -> None:
        table = self.working_table(ctx)
        secrets = set(self.secrets(ctx))
        holding = {k for k, v in table.items() if isinstance(v, str) and v in secrets}
        undeclared = holding - self.source_class.config_model.secret_keys()
        assert not undeclared, f"keys {sorted(undeclared)} hold a secret but are not SecretStr fields"

    def test_secrets_never_in_str_repr_json_show_or_describe(self, ctx: ContractContext) -> None:
        from .api import load_profile

        table = self.working_table(ctx)
        config = self.source_class.config_model.model_validate(table)
        for text, where in ((str(config), "str(config)"), (repr(config), "repr(config)"),
                            (config.model_dump_json(), "config.model_dump_json()"),
                            (str(self.source_class().describe(config)), "describe()")):
            self._assert_hidden(ctx, text, where)
        self._write_profile(ctx, table)
        profile = load_profile(PROFILE)
        self._assert_hidden(ctx, repr(profile) + json.dumps(profile.redacted()), "the resolved profile")
        for args in (["show", PROFILE], ["show", PROFILE, "--json"], ["list", "--json"]):
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 0, result.output
            self._assert_hidden(ctx, result.output, " ".join(args))

    def test_fetch_gives_the_users_credentials(self, ctx: ContractContext) -> None:
        from .api import load_profile
        from .fetch import fetch_credentials

        self._write_profile(ctx, self.working_table(ctx))
        credentials = fetch_credentials(load_profile(PROFILE))
        self._assert_hidden(ctx, repr(credentials) + str(credentials), "repr(Credentials)")
        if credentials.session_key is None:
            assert credentials.username == ctx.user

    def test_connects_to_the_stand_in_and_leaves_no_session(self, ctx: ContractContext,
                                                            no_leaked_sessions: Any) -> None:
        self._write_profile(ctx, self.working_table(ctx))
        conn = get_conn(PROFILE)
        try:
            assert conn.getUser().getName() == ctx.user
        finally:
            conn.close()

    def test_failure_is_a_credential_error_without_secrets(self, ctx: ContractContext) -> None:
        table = self.failing_table(ctx)
        if table is None:
            pytest.skip("failing_table is not defined")
        self._write_profile(ctx, table)
        with pytest.raises(CredentialError) as info:
            get_conn(PROFILE)
        assert info.value.exit_code == 4
        assert f"'{PROFILE}'" in str(info.value), "the message must name the profile"
        self._assert_hidden(ctx, "".join(traceback.format_exception(info.value)), "the chained traceback")
        for args in (["test", PROFILE], ["--debug", "test", PROFILE]):
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 4, result.output
            self._assert_hidden(ctx, result.output, " ".join(args))
