"""Shared test set-up: every test runs with its own HOME, XDG dirs and no OMERO_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from omeroprofiles import plugins
from omeroprofiles.cli import cli
from omeroprofiles.contract import isolate_environment
from omeroprofiles.fetch import forget_all


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the real user's files or sees their OMERO_* settings."""
    home = isolate_environment(tmp_path / "home", monkeypatch)
    yield home
    plugins.reset_registry()
    forget_all()


@pytest.fixture
def user_file(isolated_env: Path) -> Path:
    """The default user profiles file location (not created)."""
    return isolated_env / ".config" / "omero-profiles" / "profiles.toml"


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    return tmp_path / "site" / "profiles.toml"


def _writer(path: Path):
    def write(text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def write_user(user_file: Path):
    """Write the user's profiles file and return its path."""
    return _writer(user_file)


@pytest.fixture
def write_site(site_file: Path):
    """Write the site-wide profiles file and return its path."""
    return _writer(site_file)


@pytest.fixture
def run():
    """Invoke the CLI in-process (click's CliRunner); stdout and stderr kept apart."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None):
        return runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)

    return invoke
