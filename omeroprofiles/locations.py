"""Where files live: the user's profiles file, the site-wide file, the tool-owned state file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "omero-profiles"
USER_FILE_ENV = "OMERO_PROFILES_FILE"
SITE_FILE_ENV = "OMERO_PROFILES_SYSTEM_FILE"
PROFILE_ENV = "OMERO_PROFILE"
DEFAULT_SITE_FILE = Path("/etc/omero-profiles/profiles.toml")


@dataclass(frozen=True)
class Locations:
    """The files one invocation reads and writes."""

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


def user_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def user_state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP, appauthor=False))


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
