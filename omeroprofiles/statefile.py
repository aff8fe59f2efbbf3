"""Record (or forget) the active profile chosen by ``omero-profile use``, in the tool-owned state file.

``use`` and ``remove`` both change the state under the *profiles file's* writer lock, and ``use``
re-reads the file under it: a ``use x`` racing ``remove x`` either lands first (and ``remove``
clears it) or finds x gone. The state never names a profile that a ``remove`` took away.
Reading the choice is ``active``'s job; this module's imports (locks, pydantic through
``resolve``) are what ``current`` must not pay for.
"""

from __future__ import annotations

import tomli_w

from .active import read_state, state_choice, state_key
from .locations import Locations
from .plugins import Registry
from .resolve import Config
from .writing import atomic_write, locked


def write_state_choice(locations: Locations, name: str | None, *, registry: Registry | None = None) -> None:
    """Record (or, with None, forget) the active profile for this profiles file.

    Recording re-reads the profiles file under its writer lock and refuses a profile that is not
    (or no longer) defined or cannot be resolved, so a concurrent ``remove`` cannot be undone.
    """
    with locked(locations.user_file):
        if name is not None:
            config = Config.load(locations=locations, registry=registry)
            if not config.has(name):
                raise config.not_found(name)
            config.resolve(name)
        _write_choice(locations, name)


def forget_choice(locations: Locations, name: str) -> bool:
    """Forget the active choice if it is ``name`` (a profile just removed); True if it was.

    Call it under ``locked(locations.user_file)``, in the same hold as the removal.
    """
    with locked(locations.user_file):
        if state_choice(locations) != name:
            return False
        _write_choice(locations, None)
        return True


def _write_choice(locations: Locations, name: str | None) -> None:
    path = locations.state_file
    with locked(path):
        state = read_state(path)
        active = state.get("active") if isinstance(state.get("active"), dict) else {}
        if name is None:
            active.pop(state_key(locations), None)
        else:
            active[state_key(locations)] = name
        state["active"] = active
        atomic_write(path, tomli_w.dumps(state))
