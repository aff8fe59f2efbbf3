"""Keep the docs honest: every CLI command, hook, profile key and builtin source is documented."""

from __future__ import annotations

import re
from pathlib import Path

from omeroprofiles import hookspecs
from omeroprofiles.cli import cli
from omeroprofiles.model import PROFILE_KEYS
from omeroprofiles.plugins import Registry

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PLUGIN_GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


def test_every_cli_command_is_in_the_readme_reference():
    reference = README.split("## CLI reference", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z-]+)", reference, flags=re.M))
    assert set(cli.commands) <= documented, set(cli.commands) - documented


def test_every_hook_is_documented_with_a_docstring():
    hooks = [name for name in dir(hookspecs) if name.startswith("omeroprofiles_")]
    assert hooks
    for name in hooks:
        assert f"| `{name}()` |" in PLUGIN_GUIDE, name
        assert f"`{name}()`" in README, name
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name


def test_the_plugin_guide_covers_every_builtin_source_and_contract_check():
    from omeroprofiles.contract import CredentialSourceContract

    assert "(docs/plugins.md)" in README
    builtins = PLUGIN_GUIDE.split("### Builtin sources", 1)[1].split("\n## ", 1)[0]
    for name in Registry(load_entry_points=False).sources:
        assert f"| `{name}` |" in builtins, name
    checks = [n for n in dir(CredentialSourceContract) if n.startswith("test_")]
    assert checks
    for name in checks:
        assert f"| `{name}` |" in PLUGIN_GUIDE, name


def test_every_profile_key_and_builtin_source_is_documented():
    keys_table = README.split("### Keys of a profile", 1)[1].split("\n### ", 1)[0]
    for key in PROFILE_KEYS:
        assert f"| `{key}` |" in keys_table, key
    sources_table = README.split("### Credential sources", 1)[1].split("\n### ", 1)[0]
    for name in Registry(load_entry_points=False).sources:
        assert f"| `{name}` |" in sources_table, name


def test_readme_commands_exist():
    root = Path(__file__).resolve().parents[1]
    for script in re.findall(r"^(scripts/[a-z_]+\.sh)", README, flags=re.M):
        assert (root / script).exists(), script
    assert "scripts/test.sh" in (root / ".ci" / "run").read_text()


def _public_members(cls: type) -> set[str]:
    """What a plugin author can use: the class's own public attributes, annotations and methods, and a
    pydantic model's fields (not what it inherits from pydantic or ``abc``)."""
    names = {n for n in vars(cls) if not n.startswith("_")} | set(getattr(cls, "__annotations__", {}))
    names |= set(getattr(cls, "model_fields", {}))
    return {n for n in names if not n.startswith(("_", "model_"))}


def _documented(section_title: str) -> set[str]:
    """The names in the first column of the tables under ``### <section_title>`` in docs/plugins.md."""
    section = PLUGIN_GUIDE.split(f"### {section_title}", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([A-Za-z_][A-Za-z0-9_]*)", section, flags=re.M))


def test_every_public_member_of_the_plugin_classes_is_documented():
    from omeroprofiles.credentials import Credentials, CredentialSource

    for cls, title in ((CredentialSource, "`CredentialSource`"), (Credentials, "`Credentials`")):
        members = _public_members(cls)
        assert members, cls
        missing = members - _documented(title)
        assert not missing, f"docs/plugins.md does not document {cls.__name__}.{sorted(missing)}"


def test_the_contract_context_and_settings_are_documented():
    import dataclasses

    from omeroprofiles.contract import ContractContext, CredentialSourceContract

    testing = PLUGIN_GUIDE.split("## 3. Testing", 1)[1].split("\n## ", 1)[0]
    for field in dataclasses.fields(ContractContext):
        assert f"| `ctx.{field.name}` |" in testing, field.name
    settings = {n for n in vars(CredentialSourceContract) if not n.startswith(("_", "test_"))}
    for name in settings:
        assert f"| `{name}" in testing, name
    assert "built anew for every test" in testing


def test_the_public_prompt_helper_is_documented_and_exported():
    import omeroprofiles.credentials as public

    assert "ask" in public.__all__
    assert "from omeroprofiles.credentials import ask" in PLUGIN_GUIDE
