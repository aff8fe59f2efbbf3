"""Which profile is active: explicit > $OMERO_PROFILE > `omero-profile use` state > default.

The state written by ``use`` is tool-owned (never the user's profiles.toml) and keyed by the
profiles file it applies to, so ``--config other.toml use x`` does not change the default file's
active profile.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from .errors import ConfigError, ProfileNotFound
from .files import tomllib
from .locations import PROFILE_ENV, Locations
from .resolve import Config
from .writing import atomic_write, locked


@dataclass(frozen=True)
class Selection:
    name: str
    reason: str
    """'argument', 'env', 'state' or 'default'."""
    detail: str
    """Human wording of where the choice came from."""


def _key(locations: Locations) -> str:
    return str(locations.user_file.expanduser().absolute())


def read_state(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}  # tool-owned and rewritable: a damaged state file means "nothing chosen"


def state_choice(locations: Locations) -> str | None:
    active = read_state(locations.state_file).get("active", {})
    value = active.get(_key(locations)) if isinstance(active, dict) else None
    return value if isinstance(value, str) else None


def write_state_choice(locations: Locations, name: str | None) -> None:
    """Record (or, with None, forget) the active profile for this profiles file."""
    path = locations.state_file
    with locked(path):
        state = read_state(path)
        active = state.get("active") if isinstance(state.get("active"), dict) else {}
        if name is None:
            active.pop(_key(locations), None)
        else:
            active[_key(locations)] = name
        state["active"] = active
        atomic_write(path, tomli_w.dumps(state))


def select(config: Config, explicit: str | None = None) -> Selection:
    """Choose the profile; raise ProfileNotFound naming where an unknown name came from."""
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
                raise config.not_found(name, f" ({detail})")
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
    """The line that selects ``name`` for one terminal only."""
    return export_line(PROFILE_ENV, name, shell)


def export_line(variable: str, value: str, shell: str | None = None) -> str:
    """``export VARIABLE=value`` in the syntax of ``shell`` (default ``$SHELL``), value quoted."""
    shell = os.path.basename(shell or os.environ.get("SHELL", "sh"))
    if shell == "fish":
        return f"set -gx {variable} {shlex.quote(value)}"
    if shell in ("pwsh", "powershell") or (sys.platform == "win32" and shell == "sh"):
        return f"$env:{variable} = '{value.replace(chr(39), chr(39) * 2)}'"
    return f"export {variable}={shlex.quote(value)}"
