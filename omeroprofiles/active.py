"""Which profile is active: explicit > $OMERO_PROFILE > `omero-profile use` state > default.

The state written by ``use`` is tool-owned (never the user's profiles.toml) and keyed by the
profiles file it applies to, so ``--config other.toml use x`` does not change the default file's
active profile. This module only reads it (``current`` needs no more, and must start fast);
``statefile`` writes it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from .catalog import Catalog
from .errors import ConfigError, ProfileNotFound
from .exports import export_line  # noqa: F401 - callers (cli's env) import it from here
from .files import tomllib
from .filesystem import Unusable, read_regular
from .locations import PROFILE_ENV, Locations
from .text import printable


class Selection(NamedTuple):
    """The active profile and why (a NamedTuple: no ``dataclasses`` import on ``current``'s path)."""

    name: str
    reason: str
    """'argument', 'env', 'state' or 'default'."""
    detail: str
    """Human wording of where the choice came from."""


def state_key(locations: Locations) -> str:
    """The state file's key for the profiles file ``locations`` names."""
    return str(locations.user_file.expanduser().absolute())


def read_state(path: Path) -> dict[str, Any]:
    """The state file's data; {} when it is missing or damaged. Never blocks on a FIFO or reads a device."""
    try:
        raw = read_regular(path)
        return tomllib.loads(raw.decode("utf-8")) if raw is not None else {}
    except (Unusable, tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError):
        return {}  # tool-owned and rewritable: a damaged state file means "nothing chosen"


def state_choice(locations: Locations) -> str | None:
    active = read_state(locations.state_file).get("active", {})
    value = active.get(state_key(locations)) if isinstance(active, dict) else None
    return value if isinstance(value, str) else None


def select(config: Catalog, explicit: str | None = None) -> Selection:
    """Choose the profile; raise ProfileNotFound naming where an unknown name came from.

    ``config`` is any catalog: the parsed files (``current``), the validated ``Config``, or the
    cached ``Index``: they agree on names, so the choice is the same.
    """
    locations = config.locations
    candidates = [
        (explicit, "argument", "given as an argument"),
        (os.environ.get(PROFILE_ENV) or None, "env", f"from ${PROFILE_ENV}"),
        (state_choice(locations), "state", f"set by 'omero-profile use' in {locations.state_file}"),
        (config.default_name, "default", f"default in {config.default_file}"),
    ]
    for name, reason, detail in candidates:
        if name:
            if not config.has(name):
                error = config.not_found(printable(name), f" ({detail})")  # env and state are unchecked text
                if reason == "state" and isinstance(error, ProfileNotFound):
                    names = config.names()
                    error.message = (f"the active profile '{printable(name)}' ({detail}) is no longer defined "
                                     f"in {locations.user_file}: it was removed or renamed after "
                                     "'omero-profile use' chose it."
                                     + (f" Available: {', '.join(names)}." if names else ""))
                    error.hint = ("choose another with 'omero-profile use NAME', or forget the choice with "
                                  "'omero-profile use --clear'")
                raise error
            return Selection(name, reason, detail)
    if config.file_problems:  # e.g. a syntax error: "no profiles are defined" would be false
        raise ConfigError(config.file_problems)
    names = config.names()
    listing = f" Available: {', '.join(names)}." if names else " No profiles are defined yet."
    raise ProfileNotFound(
        "no profile selected: name one, set $OMERO_PROFILE, run 'omero-profile use NAME', "
        f"or set default = \"NAME\" in {locations.user_file}.{listing}"
    )


def shell_export(name: str, shell: str | None = None) -> str:
    """The line that selects ``name`` for one terminal only (``exports.export_line``: safe in every shell)."""
    return export_line(PROFILE_ENV, name, shell)
