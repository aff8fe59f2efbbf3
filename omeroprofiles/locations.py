"""Where files live: the user's profiles file, the site-wide file, the tool-owned state and cache files.

Also the names of the OMERO_PROFILE* environment variables, which light modules (the cache key,
``active``) read without importing the modules that act on them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NamedTuple

APP = "omero-profiles"
USER_FILE_ENV = "OMERO_PROFILES_FILE"
SITE_FILE_ENV = "OMERO_PROFILES_SYSTEM_FILE"
PROFILE_ENV = "OMERO_PROFILE"
PLUGINS_ENV = "OMERO_PROFILES_PLUGINS"
"""Comma-separated entry-point plugins to load (``plugins``); part of the cache key."""
NO_CACHE_ENV = "OMERO_PROFILES_NO_CACHE"
"""Set (non-empty): never read or write the validated-index cache."""
DEFAULT_SITE_FILE = Path("/etc/omero-profiles/profiles.toml")


class Locations(NamedTuple):
    """The files one invocation reads and writes (a NamedTuple: no ``dataclasses`` import on ``current``'s path)."""

    user_file: Path
    user_file_reason: str
    """'--config', '$OMERO_PROFILES_FILE' or 'default'."""
    site_file: Path
    site_file_reason: str
    """'$OMERO_PROFILES_SYSTEM_FILE' or 'default'."""
    state_file: Path

    @property
    def explicit_user_file(self) -> bool:
        return self.user_file_reason == "--config"

    def listed(self) -> list[tuple[str, Path, str]]:
        """``path``: each file, what it is, and why it is that one."""
        return [("user file", self.user_file, self.user_file_reason),
                ("site file", self.site_file, self.site_file_reason),
                ("state file", self.state_file, "written by 'use'")]


_XDG = {"config": ("XDG_CONFIG_HOME", "~/.config"), "state": ("XDG_STATE_HOME", "~/.local/state"),
        "cache": ("XDG_CACHE_HOME", "~/.cache")}
"""The XDG base directories: variable, and the default when it is unset, empty or not absolute."""


def _user_dir(kind: str) -> Path:
    """The user's ``kind`` directory for omero-profiles: XDG rules on Linux, platformdirs elsewhere.

    On Linux the rules are applied here: importing platformdirs (tempfile, shutil, bz2, lzma) costs
    a third of the interpreter start, and ``current`` runs on every prompt. A test checks that
    both give the same directories.
    """
    if sys.platform.startswith("linux"):
        variable, default = _XDG[kind]
        base = os.environ.get(variable, "")
        return Path(base if os.path.isabs(base) else os.path.expanduser(default)) / APP
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP, appauthor=False))


def user_config_dir() -> Path:
    return _user_dir("config")


def user_state_dir() -> Path:
    return _user_dir("state")


def user_cache_dir() -> Path:
    return _user_dir("cache")


def locate(config: str | os.PathLike[str] | None = None) -> Locations:
    """Work out the files to use; ``config`` is the CLI's ``--config`` (replaces the user file)."""
    if config is not None:
        user, reason = Path(config), "--config"
    elif os.environ.get(USER_FILE_ENV):
        user, reason = Path(os.environ[USER_FILE_ENV]), f"${USER_FILE_ENV}"
    else:
        user, reason = user_config_dir() / "profiles.toml", "default"
    if os.environ.get(SITE_FILE_ENV):
        site, site_reason = Path(os.environ[SITE_FILE_ENV]), f"${SITE_FILE_ENV}"
    else:
        site, site_reason = DEFAULT_SITE_FILE, "default"
    return Locations(
        user_file=user.expanduser(),
        user_file_reason=reason,
        site_file=site.expanduser(),
        site_file_reason=site_reason,
        state_file=user_state_dir() / "state.toml",
    )
