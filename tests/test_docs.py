"""Keep the docs honest: every CLI command, hook, profile key and builtin source is documented, the
README stays a short page that links to the rest, and every link in the docs leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

from omeroprofiles import hookspecs
from omeroprofiles.cli import cli
from omeroprofiles.model import PROFILE_KEYS
from omeroprofiles.plugins import Registry

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"
PLUGIN_GUIDE = (DOCS / "plugins.md").read_text(encoding="utf-8")
CLI_GUIDE = (DOCS / "cli.md").read_text(encoding="utf-8")
PROFILES_GUIDE = (DOCS / "profiles.md").read_text(encoding="utf-8")
API_GUIDE = (DOCS / "python-api.md").read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line, e.g. ``## Commands``) up to the next heading
    of the same level."""
    level = heading.split(" ", 1)[0]
    return text.split(f"\n{heading}\n", 1)[1].split(f"\n{level} ", 1)[0]


def test_every_cli_command_is_in_the_cli_reference():
    reference = _section(CLI_GUIDE, "## Commands")
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
    keys_table = _section(PROFILES_GUIDE, "## Keys of a profile")
    for key in PROFILE_KEYS:
        assert f"| `{key}` |" in keys_table, key
    sources_table = _section(PROFILES_GUIDE, "## Credential sources")
    for name in Registry(load_entry_points=False).sources:
        assert f"| `{name}` |" in sources_table, name


def test_every_error_is_documented_with_its_exit_code():
    from omeroprofiles import errors

    table = _section(API_GUIDE, "## Errors")
    kinds = [errors.ConfigError, errors.ProfileNotFound, errors.CredentialError, errors.ServerUnreachable,
             errors.AuthenticationFailed, errors.AccessDenied]
    for kind in kinds:
        assert f"| `{kind.__name__}` | {kind.exit_code} |" in table, kind
        assert f"| `{kind.__name__}` | {kind.exit_code} |" in README, kind
        assert f"| {kind.exit_code} | " in _section(CLI_GUIDE, "## Exit codes"), kind
    others = {c.__name__ for c in vars(errors).values()
              if isinstance(c, type) and issubclass(c, errors.ProfileError) and c not in kinds}
    for name in others - {"ProfileError"}:
        assert f"`{name}`" in table, name


def test_readme_is_a_short_page_with_the_two_commands_near_the_top():
    lines = README.splitlines()
    assert len(lines) <= 200, len(lines)
    top = "\n".join(lines[:30])
    assert "bash scripts/setup.sh" in top and "bash scripts/test.sh" in top
    scripts = set(re.findall(r"\b(scripts/[a-z_]+\.sh)\b", README))
    assert {"scripts/setup.sh", "scripts/test.sh"} <= scripts
    for script in scripts:
        assert (ROOT / script).exists(), script
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def _toml_blocks(text: str) -> list[str]:
    return re.findall(r"^```toml\n(.*?)^```", text, flags=re.M | re.S)


def test_the_profiles_files_in_the_readme_and_the_profiles_guide_are_valid(tmp_path, monkeypatch):
    """A newcomer copies these first: each must pass ``omero-profile validate`` as written."""
    from click.testing import CliRunner

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("OMERO_PROFILES_SYSTEM_FILE", str(tmp_path / "no-site.toml"))
    blocks = [block for text in (README, PROFILES_GUIDE) for block in _toml_blocks(text)]
    assert len(blocks) >= 2
    for number, block in enumerate(blocks):
        path = tmp_path / f"example{number}.toml"
        path.write_text(block, encoding="utf-8")
        path.chmod(0o600)
        result = CliRunner().invoke(cli, ["--config", str(path), "validate"])
        assert result.exit_code == 0, (block, result.output)


def test_the_python_examples_in_the_readme_and_the_api_guide_compile():
    import ast

    blocks = [block for text in (README, API_GUIDE) for block in
              re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)]
    assert len(blocks) >= 2
    for block in blocks:
        ast.parse(block)


# -- links -----------------------------------------------------------------------------------------

MARKDOWN = [ROOT / "README.md", *sorted(DOCS.glob("*.md")), ROOT / "standin" / "README.md",
            ROOT / "benchmarks" / "README.md", *sorted(ROOT.glob("plugins/*/README.md"))]


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchors(text: str) -> set[str]:
    """The fragments a page answers to: explicit ``<a id>``s and GitHub's heading slugs."""
    found = set(re.findall(r'<a id="([^"]+)"', text))
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", re.sub(r"^```.*?^```", "", text, flags=re.M | re.S), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def test_every_relative_link_in_the_docs_leads_to_a_file_and_heading_that_exist():
    assert len(MARKDOWN) >= 8
    checked, broken = 0, []
    for page in MARKDOWN:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", _prose(text)):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            checked += 1
            path, _, fragment = target.partition("#")
            where = (page.parent / path).resolve() if path else page
            if not where.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif fragment and where.suffix == ".md" and fragment not in _anchors(where.read_text(encoding="utf-8")):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert checked >= 30, checked
    assert not broken, "\n".join(broken)


def test_the_readme_links_every_docs_page():
    for page in sorted(DOCS.glob("*.md")):
        assert f"(docs/{page.name})" in README, page.name


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
